"""`moviebot build`: run the build stages into a new version, then publish it."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import artifacts
from engine.build_context import BuildContext
from engine.components import STAGES, load_target
from engine.errors import DataError

log = logging.getLogger("moviebot.build")


def stage_names() -> list[str]:
    """The build stages in order (engine/components.py: later stages read ctx.tables)."""
    return [spec.name for spec in STAGES]


def metric_summary(metrics: dict[str, Any] | None, limit: int = 6) -> str:
    """A few scalar metrics for a log line (", default ease, val_ndcg@10 0.158"); the full
    set is in the manifest."""
    parts = []
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
        if len(parts) == limit:
            break
    return (": " + ", ".join(parts)) if parts else ""


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_checksums(data_dir: Path) -> dict[str, str]:
    """sha256 of every manifest file present, so a manifest says exactly what it was built from."""
    from engine.datasets.manifest import load_manifest

    sums = {}
    for entry in load_manifest().files():
        path = data_dir / entry.path
        if path.exists():
            sums[entry.path] = _checksum(path)
    return sums


def run_build(ctx: BuildContext, only: list[str] | None = None, publish: bool = True,
              keep: int = 5) -> Path:
    """Run the stages into ``ctx.out_dir`` and publish it; returns the version directory.

    With ``only``, stages not named are copied from ``ctx.previous_dir`` (hard links, so
    nothing is duplicated and nothing published is ever written to).
    """
    unknown = set(only or []) - set(stage_names())
    if unknown:
        raise DataError("moviebot build", f"unknown component(s): {', '.join(sorted(unknown))}",
                        f"choose from {', '.join(stage_names())}")
    manifest: dict[str, Any] = {
        "version": ctx.out_dir.name,
        "created_at": datetime.now(UTC).isoformat(),
        "quick": ctx.quick,
        "seed": ctx.seed,
        "data_dir": str(ctx.data_dir),
        "data_checksums": data_checksums(ctx.data_dir),
        "components": {},
        "metrics": {},
    }
    previous = artifacts.read_manifest(ctx.previous_dir) if ctx.previous_dir else {}
    from tqdm import tqdm

    bar = tqdm(STAGES, desc="build", unit="stage", disable=not ctx.progress, leave=True,
               bar_format="{desc}: {n_fmt}/{total_fmt} stages |{bar:20}| {elapsed} {postfix}")
    for spec in bar:
        name = spec.name
        bar.set_postfix_str(name)
        if only and name not in only and name in previous.get("components", {}):
            _reuse(ctx.previous_dir, ctx.out_dir, name, previous["components"][name])
            manifest["components"][name] = previous["components"][name]
            manifest["metrics"][name] = previous.get("metrics", {}).get(name, {})
            # later stages still need the tables this stage produced
            _load_tables(ctx, name)
            continue
        stage = load_target(spec.build)
        log.info("stage %s: start", name)
        started = time.perf_counter()
        result = stage(ctx) or {}
        seconds = round(time.perf_counter() - started, 2)
        result.setdefault("params", {})["seconds"] = seconds
        manifest["components"][name] = result
        manifest["metrics"][name] = result.get("metrics", {})
        log.info("stage %s: done in %.1fs%s", name, seconds, metric_summary(result.get("metrics")))
        log.debug("stage %s metrics: %s", name, result.get("metrics"))
    bar.close()
    # Every file's sha256, verified when a version is loaded (engine/artifacts.py): a file
    # changed after the build, or planted on a shared volume, is refused, not served.
    manifest["files"] = artifacts.file_checksums(ctx.out_dir)
    artifacts.write_manifest(ctx.out_dir, manifest)
    if publish:
        artifacts.publish(ctx.out_dir.parent, ctx.out_dir)
        artifacts.prune(ctx.out_dir.parent, keep=keep)
    return ctx.out_dir


def _reuse(src_version: Path, dst_version: Path, name: str, entry: dict) -> None:
    import os

    for rel in entry.get("files", []):
        src, dst = src_version / rel, dst_version / rel
        if not src.exists():
            # a later stage may read it (collab reads content's vectors): say which to rebuild
            raise DataError(str(src), f"the current version's {name} stage lacks this file, "
                            "so it cannot be reused", fix=f"rebuild it too: `moviebot build "
                            f"--only {name}`")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            import shutil

            shutil.copy2(src, dst)


def _load_tables(ctx: BuildContext, name: str) -> None:
    import pandas as pd

    path = ctx.out_dir / f"{name}.parquet"
    if path.exists():
        ctx.tables[name] = pd.read_parquet(path)
