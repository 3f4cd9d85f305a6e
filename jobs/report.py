"""`moviebot report` (HTML + PNG charts of metrics across versions) and the eval job.

Points come from two places: the manifests of the versions still on disk, and the job
runs in the store, which keep every candidate's metrics, also of candidates the gate
rejected and of versions pruned since. So the charts show the model's history, not
only the last ``keep`` versions.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import artifacts
from engine.components import COMPONENTS, load_target
from engine.errors import DataError

from .retrain import GATE_METRICS
from .runs import JobResult, record_job_run

log = logging.getLogger("moviebot.jobs")

MAX_METRICS_PER_CHART = 8


@dataclass
class Point:
    version: str
    created_at: str
    status: str                     # current | published | rejected
    metrics: dict[str, dict[str, float]]  # component -> metric -> value


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Top-level numbers of each component's metrics (nested tables are left out)."""
    out: dict[str, dict[str, float]] = {}
    for component, values in (metrics or {}).items():
        if not isinstance(values, dict):
            continue
        nums = {k: float(v) for k, v in values.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
                and math.isfinite(float(v))}
        if nums:
            out[component] = nums
    return out


def collect(root: Path, runs: list[Any] | None = None) -> list[Point]:
    """Every known version and candidate, oldest first.

    Besides the manifest metrics, a candidate judged by the retrain gate gets the
    "gate" series: its served-path probe NDCG (see jobs.retrain.probe_gate).
    """
    points: dict[str, Point] = {}
    for run in reversed(runs or []):  # job_runs come newest first
        d = run.details or {}
        if run.status not in ("published", "rejected") or not d.get("candidate"):
            continue
        inner = d.get("details", {})
        metrics = numeric_metrics(inner.get("metrics", {}))
        probe = inner.get("compared", {}).get("probe", {})
        if isinstance(probe.get("candidate"), int | float):
            metrics["gate"] = {f"probe_{probe.get('metric', 'ndcg@10')}": float(probe["candidate"])}
        points[d["candidate"]] = Point(d["candidate"], run.finished_at.isoformat(
            timespec="seconds"), run.status, metrics)
    try:
        current = artifacts.current_version(root).name
    except DataError:
        current = None
    for path in artifacts.list_versions(root):
        manifest = artifacts.read_manifest(path)
        metrics = numeric_metrics(manifest.get("metrics", {}))
        if path.name in points and "gate" in points[path.name].metrics:
            metrics["gate"] = points[path.name].metrics["gate"]
        points[path.name] = Point(path.name, str(manifest.get("created_at", "")),
                                  "current" if path.name == current else "published", metrics)
    return sorted(points.values(), key=lambda p: (p.version.split("-")[0], p.created_at))


def _chart(points: list[Point], component: str, metrics: list[str], path: Path) -> None:
    try:
        import matplotlib  # lazy: an optional extra, and slow to import; only the charts need it
    except ImportError:
        raise DataError("matplotlib", "is not installed; the report draws its charts with it",
                        "pip install 'moviebot[report]'") from None

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 2.2 * len(metrics) + 0.6),
                             sharex=True, squeeze=False)
    labels = [p.version[:16] for p in points]
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        xs = [i for i, p in enumerate(points) if metric in p.metrics.get(component, {})]
        ys = [points[i].metrics[component][metric] for i in xs]
        ax.plot(xs, ys, color="0.7", linewidth=1)
        for status, style in (("published", dict(c="tab:blue", marker="o")),
                              ("current", dict(c="tab:green", marker="*", s=120)),
                              ("rejected", dict(c="tab:red", marker="x"))):
            sel = [(x, y) for x, y in zip(xs, ys, strict=True) if points[x].status == status]
            if sel:
                ax.scatter(*zip(*sel, strict=True), label=status, zorder=3, **style)
        gate = (" (quality gate)" if GATE_METRICS.get(component) == metric
                or component == "gate" else "")
        ax.set_title(f"{component} · {metric}{gate}", fontsize=10, loc="left")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8)
    axes[-1, 0].set_xticks(range(len(points)), labels, rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(root: Path, out_dir: Path, runs: list[Any] | None = None) -> Path:
    """Write ``index.html`` and one PNG per component into ``out_dir``; returns the HTML."""
    out_dir.mkdir(parents=True, exist_ok=True)
    points = collect(root, runs)
    if not points:
        raise DataError(str(root), "no model versions and no recorded job runs to report on",
                        "run `moviebot build` or `moviebot jobs retrain` first")
    components = sorted({c for p in points for c in p.metrics},
                        key=lambda c: (c != "gate", c not in GATE_METRICS, c))
    charts = []
    for component in components:
        names = sorted({m for p in points for m in p.metrics.get(component, {})},
                       key=lambda m: (GATE_METRICS.get(component) != m, m))
        chosen = names[:MAX_METRICS_PER_CHART]
        png = out_dir / f"{component}.png"
        _chart(points, component, chosen, png)
        charts.append((component, png.name, len(names) - len(chosen)))
    (out_dir / "index.html").write_text(_html(root, points, charts, runs or []))
    log.info("report: %d versions/candidates, %d charts -> %s", len(points), len(charts),
             out_dir / "index.html")
    return out_dir / "index.html"


def _html(root: Path, points: list[Point], charts: list[tuple[str, str, int]],
          runs: list[Any]) -> str:
    e = html.escape
    gate = ", ".join(f"{c}: {m}" for c, m in GATE_METRICS.items())
    rows = []
    for p in reversed(points):
        gm = "; ".join(f"{m} {p.metrics.get(c, {}).get(m, float('nan')):.4f}"
                       for c, m in GATE_METRICS.items() if m in p.metrics.get(c, {}))
        rows.append(f"<tr class='{p.status}'><td>{e(p.version)}</td><td>{e(p.created_at)}</td>"
                    f"<td>{e(p.status)}</td><td>{e(gm)}</td></tr>")
    run_rows = []
    for r in runs[:50]:
        reasons = "; ".join((r.details or {}).get("reasons", []))
        run_rows.append(f"<tr class='{e(r.status)}'><td>{e(r.finished_at.isoformat(timespec='seconds'))}"
                        f"</td><td>{e(r.name)}</td><td>{e(r.status)}</td><td>{e(reasons)}</td></tr>")
    imgs = "".join(
        f"<h3>{e(c)}</h3><img src='{e(png)}' alt='{e(c)} metrics across versions'>"
        + (f"<p class='note'>{more} more metric(s) in the manifests.</p>" if more else "")
        for c, png, more in charts)
    runs_html = ("<h2>Recent job runs</h2><table><tr><th>finished</th><th>job</th><th>status"
                 "</th><th>why</th></tr>" + "".join(run_rows) + "</table>") if run_rows else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>moviebot model report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%}}
tr.rejected td{{color:#b00}}tr.current td{{font-weight:bold}}.note{{color:#666}}</style></head>
<body><h1>moviebot model report</h1>
<p>Artifacts: {e(str(root))} · generated {e(datetime.now(UTC).isoformat(timespec='seconds'))}
· quality gate: {e(gate)} (higher is better)</p>
<h2>Versions and candidates</h2><table><tr><th>version</th><th>created</th><th>status</th>
<th>gate metric</th></tr>{''.join(rows)}</table>
<h2>Metrics across versions</h2>{imgs}{runs_html}</body></html>
"""


async def evaluate_current(settings: Any, store: Any = None) -> JobResult:
    """Re-run the held-out evaluation of every component of the published version that
    has an evaluator in the component registry; recorded as job "eval"."""
    root = Path(settings.artifacts)
    version = artifacts.current_version(root)
    components = artifacts.read_manifest(version).get("components", {})
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in COMPONENTS:
        if spec.evaluate is None or spec.name not in components:
            continue
        try:
            evaluate = load_target(spec.evaluate)
            report = await asyncio.to_thread(evaluate, version, Path(settings.data_dir))
            results[spec.name] = report.tables
            log.info("eval %s: %s", spec.name, results[spec.name])
        except Exception as exc:
            log.exception("eval %s failed", spec.name)
            errors[spec.name] = str(exc)
    status = "failed" if errors and not results else "ok"
    result = JobResult("eval", status, version.name,
                       reasons=[f"{k}: {v}" for k, v in errors.items()],
                       details={"results": results})
    await record_job_run(store, result)
    return result
