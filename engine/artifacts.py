"""Versioned artifact directories with an atomically switched `current` pointer.

A build writes everything into a fresh ``v<timestamp>-<id>`` directory and only then
replaces the ``current`` symlink (``os.replace`` of a new link is atomic on POSIX).
Files inside a published version are never rewritten, so a process that memory-maps
them (Annoy) keeps a consistent view; old versions are pruned by deleting whole
directories, which leaves already-mapped inodes alive until their readers close them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import DataError

CURRENT = "current"
MANIFEST = "manifest.json"
# Titles users asked for that the catalog lacks, one JSON line each
# {"title", "tmdb_id" or null, "asked_at"}: appended by the bots (bot/ondemand.py), read
# and cleared by `moviebot catalog update` (jobs/catalog_update.py), in the artifacts root.
PENDING_TITLES = "pending_titles.jsonl"


def new_version_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    # Microseconds, so versions built within one second still sort in creation order.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = root / f"v{stamp}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def write_manifest(version_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = version_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, version_dir / MANIFEST)


def file_checksums(version_dir: Path) -> dict[str, str]:
    """sha256 of every file in a built version (relative path -> hex), for its manifest."""
    version_dir = Path(version_dir)
    return {path.relative_to(version_dir).as_posix(): _sha256(path)
            for path in sorted(version_dir.rglob("*"))
            if path.is_file() and not path.is_symlink() and path.name != MANIFEST
            and not path.name.endswith(".tmp")}


_VERIFIED: dict[tuple, str] = {}    # (path, inode, size, mtime) -> sha256 already checked


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def verify_files(version_dir: Path, paths: list[Path], manifest: dict[str, Any] | None = None,
                 component: str = "") -> None:
    """Check ``paths`` (files of a built version) against the sha256 its manifest lists;
    a DataError names the first file that differs (changed after the build, damaged, or
    planted on a shared volume). Versions built before checksums were listed are not
    checked."""
    version_dir = Path(version_dir)
    if manifest is None:
        manifest = json.loads((version_dir / MANIFEST).read_text())
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return
    fix = (f"rebuild it: `moviebot build --only {component}`" if component
           else "rebuild: `moviebot build`")
    files = []
    for path in map(Path, paths):        # a directory (collab's model/) stands for its files
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in files:
        name = Path(path).resolve().relative_to(version_dir.resolve()).as_posix()
        expected = listed.get(name)
        if expected is None:
            raise DataError(str(path), "is not listed in the version's manifest.json (it was "
                            "not written by the build)", fix)
        actual = _sha256(Path(path))
        if actual != expected:
            raise DataError(str(path), f"sha256 is {actual[:12]}…, manifest.json lists "
                            f"{expected[:12]}…: the file changed after the build", fix)


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The version's manifest; the files at its top (the catalog) are verified here, as
    every load starts with this (component files: `component_files`)."""
    path = version_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(str(path), "no manifest.json: this is not a built artifacts version",
                        build_advice()) from None
    except json.JSONDecodeError as exc:
        raise DataError(str(path), f"manifest.json is not valid JSON ({exc})",
                        "rebuild with `moviebot build`") from None
    top = [version_dir / name for name in manifest.get("files") or {} if "/" not in name]
    verify_files(version_dir, [p for p in top if p.exists()], manifest)
    return manifest


def publish(root: Path, version_dir: Path) -> None:
    """Point ``root/current`` at ``version_dir`` atomically."""
    if not (version_dir / MANIFEST).exists():
        raise DataError(str(version_dir), "refusing to publish a version without manifest.json")
    link = root / CURRENT
    tmp = root / f".{CURRENT}.{secrets.token_hex(4)}"
    os.symlink(version_dir.name, tmp)  # relative, so the tree can be moved or mounted
    os.replace(tmp, link)


def build_advice(command: str = "moviebot build", quick_hint: bool = False) -> str:
    """How to build, said so that it works where it is read: an installation without
    TensorFlow (the serving Docker image) cannot run `moviebot build` itself."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        quick = f" (or `{command} --quick` for a small one)" if quick_hint else ""
        return f"run `{command}`{quick}"
    return ("this installation has no TensorFlow, so it cannot build: with docker compose, "
            "the `build` service builds the first version (`docker compose run --rm build`); "
            "elsewhere install the train extra (`pip install -e '.[train]'` in a checkout) and run "
            f"`{command}`")


def current_version(root: Path) -> Path:
    """The version directory that ``root`` points at; ``root`` may itself be a version."""
    root = Path(root)
    if (root / MANIFEST).exists():
        return root
    link = root / CURRENT
    if not link.exists():
        raise DataError(str(root), "no built artifacts here (no `current` version)",
                        build_advice(quick_hint=True))
    version = link.resolve()
    if version.parent != root.resolve():
        # `current` is written by `publish` as a name in the same directory; anything else
        # (an absolute or ../ link planted on a shared volume) is not ours to load.
        raise DataError(str(link), f"points outside the artifacts directory (to {version})",
                        f"publish a version again (`moviebot build`), or point {link} at a "
                        f"v... directory inside {root}")
    return version


def list_versions(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("v")
                  and (p / MANIFEST).exists())


def prune(root: Path, keep: int = 3) -> list[Path]:
    """Delete all but the newest ``keep`` versions, never the current one."""
    try:
        cur = current_version(root)
    except DataError:
        cur = None
    versions = list_versions(root)
    removed = []
    for path in versions[:-keep] if keep > 0 else versions:
        if cur is not None and path.resolve() == cur:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def component_files(dir: Path, component: str, required: list[str]) -> dict[str, Path]:
    """The paths of a component's files in a built version, or the one DataError.

    Every recommender's ``load`` calls this first, so a missing file (never built, or a
    version built by an older release without it) always reads the same way: which file,
    which component (its registry key), and how to fix it.
    """
    dir = Path(dir)
    paths = {name: dir / name for name in required}
    root = dir.resolve()
    for name, path in paths.items():
        if not path.exists():
            raise DataError(str(path), f"the {component} component lacks {name} (not built, "
                            "or built by an older version)",
                            f"run `moviebot build --only {component}`")
        real = path.resolve()
        if root not in real.parents:
            # A build writes plain files; a symlink out of the version (planted on a
            # shared volume) could feed the bot any file on the machine.
            raise DataError(str(path), f"leads outside its artifacts version (to {real})",
                            f"rebuild it: `moviebot build --only {component}`")
    version = dir if (dir / MANIFEST).exists() else dir.parent
    if (version / MANIFEST).exists():
        verify_files(version, list(paths.values()), component=component)
    return paths


def read_parquet_names(path: Path) -> list[str]:
    """The column names of a Parquet file (its schema only)."""
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def read_columns(path: Path, columns: list[str] | None = None) -> dict[str, Any]:
    """A Parquet table of a built version as plain columns (name -> numpy array for
    numbers, an integer column with gaps as floats with NaN; a list for everything else,
    None where a value is missing).

    Serving reads its tables this way, not with pandas: importing pandas costs a serving
    process ~0.5 s of CPU and ~100 MB at every start (benchmarks/bench_startup.py)."""
    import numpy as np
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    # ParquetFile, not pq.read_table: read_table goes through pyarrow.dataset, which
    # imports all of pandas
    table = pq.ParquetFile(path).read(columns=columns)
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        # to_pylist, not to_numpy: pyarrow's to_numpy imports pandas too
        values = column.to_pylist()
        if pat.is_floating(column.type) or (pat.is_integer(column.type) and column.null_count):
            out[name] = np.array(values, dtype=np.float64)     # None -> NaN
        elif pat.is_integer(column.type):
            out[name] = np.array(values, dtype=np.int64)
        else:
            out[name] = values
    return out
