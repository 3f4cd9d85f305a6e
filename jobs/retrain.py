"""Retrain, gate, publish: the jobs that turn feedback into a better model.

``retrain`` builds a candidate version (collab retrained on MovieLens + every
non-retracted chat feedback event; the other components hard-linked from the current
version) and publishes it only if it is not worse than the current version beyond a
tolerance, on two checks: the validation metric the collab stage writes into the
manifest (``GATE_METRICS``), and a paired probe of the served ``recommend()`` on the same
real MovieLens users for both versions. Otherwise the candidate is deleted and the
reason recorded in ``job_runs``. ``rebuild_content`` does the same for the catalog-driven
components when the raw data changed. Every job holds the ``JobLock``, so two schedulers
(or a scheduler and a cron job) never train at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import artifacts
from engine.config import Settings
from engine.errors import DataError, MovieBotError
from engine.metrics import mean_se, ndcg_at_k, paired_difference
from engine.queries import HistoryQuery

from .runs import JobLock, JobResult, record_job_run

log = logging.getLogger("moviebot.jobs")

# component -> the metric in its manifest entry the gate compares (higher is better).
# The collab stage reports NDCG@10 on held-out validation users.
GATE_METRICS: dict[str, str] = {"collab": "val_ndcg@10"}
# A candidate may be at most this much worse (relative) and still be published: the
# validation split moves a little as feedback users are added.
DEFAULT_TOLERANCE = 0.02
# The validation metric is a mean over a few hundred held-out users, and adding chat users
# reshuffles which users are held out, so two equally good models differ by sampling noise
# (measured: -17% on --quick with 121 validation users). The gate forgives this many
# standard errors of the difference on top of the tolerance; 0 turns that off.
NOISE_Z = 2.0
DEFAULT_KEEP = 5
RETRAIN_STAGES = ("collab",)
# Stages rebuilt when the raw catalog data changed (collab keeps its model).
CONTENT_STAGES = ("catalog", "songs", "content", "crossmedia")


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    compared: dict[str, dict[str, Any]] = field(default_factory=dict)


def gate_metric(manifest: dict[str, Any], component: str, metric: str) -> float | None:
    entry = manifest.get("components", {}).get(component, {})
    value = entry.get("metrics", {}).get(metric)
    if value is None:
        value = manifest.get("metrics", {}).get(component, {}).get(metric)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def validation_users(manifest: dict[str, Any], component: str) -> int | None:
    """How many held-out users the component's validation metric averages over."""
    metrics = manifest.get("components", {}).get(component, {}).get("metrics", {})
    if metrics.get("val_users"):
        return int(metrics["val_users"])
    table, default = metrics.get("validation"), metrics.get("default")
    if isinstance(table, dict) and isinstance(table.get(default), dict):
        users = table[default].get("users")
        return int(users) if users else None
    return None


def noise_allowance(old: float, new: float, n_old: int | None, n_new: int | None,
                    z: float = NOISE_Z) -> float:
    """``z`` standard errors of ``new - old`` for means of per-user scores in [0, 1].

    A score in [0, 1] with mean m has variance at most m(1 - m), which bounds the
    standard error without the per-user values. 0 when the user counts are unknown.
    """
    if not n_old or not n_new or z <= 0:
        return 0.0
    m_old, m_new = min(max(old, 0.0), 1.0), min(max(new, 0.0), 1.0)
    return z * math.sqrt(m_old * (1 - m_old) / n_old + m_new * (1 - m_new) / n_new)


def quality_gate(current: dict[str, Any], candidate: dict[str, Any],
                 tolerance: float = DEFAULT_TOLERANCE, noise_z: float = NOISE_Z,
                 metrics: dict[str, str] | None = None) -> GateResult:
    """Is ``candidate`` not worse than ``current`` beyond the allowed drop on every gate
    metric? Allowed: the larger of ``tolerance`` (relative) and the sampling noise."""
    result = GateResult(passed=True)
    for component, metric in (metrics or GATE_METRICS).items():
        if component not in candidate.get("components", {}):
            continue
        new = gate_metric(candidate, component, metric)
        old = gate_metric(current, component, metric)
        compared: dict[str, Any] = {"metric": metric, "current": old, "candidate": new}
        result.compared[component] = compared
        if new is None:
            result.passed = False
            result.reasons.append(f"{component}: the candidate reports no {metric}")
            continue
        if old is None:
            result.reasons.append(f"{component}: no current {metric} to compare with")
            continue
        users = (validation_users(current, component), validation_users(candidate, component))
        noise = noise_allowance(old, new, *users, z=noise_z)
        allowed = max(tolerance * old, noise)
        compared.update(allowed_drop=round(allowed, 6), validation_users=list(users))
        change = f"{old:.4f} -> {new:.4f} ({(new - old) / old if old else 0:+.1%})"
        why = (f"allowed drop {allowed:.4f}: tolerance {tolerance:.0%}"
               + (f", noise {noise:.4f} over {users[0]}/{users[1]} validation users"
                  if noise else ""))
        if new < old - allowed - 1e-12:
            result.passed = False
            result.reasons.append(f"{component} {metric} fell {change}; {why}")
        else:
            result.reasons.append(f"{component} {metric} {change}; {why}")
        kinds = [m.get("components", {}).get(component, {}).get("metrics", {}).get("default")
                 for m in (current, candidate)]
        if kinds[0] and kinds[1] and kinds[0] != kinds[1]:
            # the probe asks about films both models trained on, which favours the model
            # that memorises more: worth knowing when reading a rejection
            result.reasons.append(f"note: {component} model changed {kinds[0]} -> {kinds[1]}")
    if current.get("quick") != candidate.get("quick"):
        result.reasons.append(f"note: current quick={current.get('quick')}, "
                              f"candidate quick={candidate.get('quick')}")
    return result


# The served-path probe: the same real MovieLens users asked of both versions. Each keeps
# the later fifth of their >= 4-star films hidden and gets the rest as history; NDCG@10
# of recommend() against the hidden films. Both versions trained on these users, so it is
# a regression check ("does the candidate serve real users worse?"), paired and so far
# less noisy than comparing two validation splits.
PROBE_USERS = 300
PROBE_K = 10


def probe_queries(data_dir: Path, users: int = PROBE_USERS, seed: int = 42
                  ) -> list[tuple[list[tuple[int, float]], set[int]]]:
    # lazy: this module is imported when the CLI parser is built; numpy/pandas are not
    import numpy as np
    import pandas as pd

    ratings = pd.read_csv(Path(data_dir) / "movielens" / "ml-latest-small" / "ratings.csv")
    queries = []
    for _, g in ratings.sort_values(["timestamp", "movieId"]).groupby("userId"):
        liked = g.movieId[g.rating >= 4]
        if len(liked) < 5:
            continue
        hidden = set(liked.iloc[-max(1, len(liked) // 5):].tolist())
        history = [(int(m), float(r)) for m, r in zip(g.movieId, g.rating, strict=True)
                   if m not in hidden]
        queries.append((history, hidden))
    pick = np.random.default_rng(seed).choice(len(queries), min(users, len(queries)),
                                              replace=False)
    return [queries[i] for i in sorted(pick)]


def probe_scores(version_dir: Path, queries: list, k: int = PROBE_K) -> list[float] | None:
    """Per-query NDCG@k of the version's served recommend(); None if it has no collab."""
    from engine import Engine  # lazy: loads the catalog stack; not needed to build the CLI

    try:
        engine = Engine.load(version_dir)
        engine.recommender("collab")
    except Exception as exc:
        log.info("probe: %s has no loadable collab model (%s)", version_dir.name, exc)
        return None
    scores = []
    for history, hidden in queries:
        try:
            query = HistoryQuery.of(history)
            ids = [r.movie.movie_id for r in engine.recommend("collab", query, k=k).results]
        except MovieBotError:  # a refused query serves nothing: it scores 0
            ids = []
        scores.append(ndcg_at_k(ids, hidden, k))
    return scores


def probe_gate(gate: GateResult, old: list[float] | None, new: list[float] | None,
               tolerance: float, noise_z: float) -> None:
    """Add the paired probe comparison to ``gate``."""
    if old is None:
        return  # nothing served to compare with (first build, or no collab yet)
    if new is None:
        gate.passed = False
        gate.reasons.append("probe: the candidate's collab model does not load")
        return
    n = len(old)
    (mean_old, _), (mean_new, _) = mean_se(old), mean_se(new)
    mean_diff, se = paired_difference(new, old)
    allowed = max(tolerance * mean_old, noise_z * se)
    gate.compared["probe"] = {"metric": f"ndcg@{PROBE_K}", "users": n,
                              "current": round(mean_old, 6), "candidate": round(mean_new, 6),
                              "paired_se": round(se, 6), "allowed_drop": round(allowed, 6),
                              "users_changed": sum(a != b for a, b in zip(old, new, strict=True))}
    change = (f"{mean_old:.4f} -> {mean_new:.4f} "
              f"({mean_diff / mean_old if mean_old else 0:+.1%}) over {n} MovieLens users, "
              f"allowed drop {allowed:.4f}")
    if mean_new < mean_old - allowed - 1e-12:
        gate.passed = False
        gate.reasons.append(f"probe ndcg@{PROBE_K} of served recommendations fell {change}")
    else:
        gate.reasons.append(f"probe ndcg@{PROBE_K} {change}")


def run_probe(data_dir: Path, current: Path | None, candidate: Path
              ) -> tuple[list[float] | None, list[float] | None]:
    if current is None:
        return None, None
    queries = probe_queries(data_dir)
    old = probe_scores(current, queries)
    return (None, None) if old is None else (old, probe_scores(candidate, queries))


def build_candidate(settings: Settings, *, only: list[str] | None, quick: bool,
                    feedback: Any = None, seed: int = 42) -> tuple[Path, Path | None]:
    """Build a new (unpublished) version; returns it and the current one (or None)."""
    # lazy: the build pulls in every stage's modules; not needed to build the CLI
    from engine.build_context import BuildContext

    from .build import run_build

    root = Path(settings.artifacts)
    try:
        previous: Path | None = artifacts.current_version(root)
    except DataError:
        previous, only = None, None  # nothing to reuse: build everything
    out = artifacts.new_version_dir(root)
    ctx = BuildContext(data_dir=Path(settings.data_dir), out_dir=out, quick=quick, seed=seed,
                       previous_dir=previous, feedback=feedback, progress=False)
    try:
        run_build(ctx, only=only, publish=False)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # never published: nobody can have it open
        raise
    return out, previous


async def gated_build(settings: Settings, *, name: str, only: list[str] | None,
                      quick: bool = False, tolerance: float = DEFAULT_TOLERANCE,
                      keep: int = DEFAULT_KEEP, force: bool | str = False, store: Any = None,
                      noise_z: float = NOISE_Z,
                      feedback: Any = None, lock: JobLock | None = None,
                      record: bool = True) -> JobResult:
    """Build a candidate, gate it against the current version, publish or discard it.

    ``force`` publishes whatever the gate says; a string is recorded as the reason.
    """
    root = Path(settings.artifacts)
    lock = lock or JobLock.for_artifacts(root)
    started = time.perf_counter()
    with lock.hold(name):
        log.info("%s: building candidate (only=%s, quick=%s)", name, only, quick)
        try:
            out, previous = await asyncio.to_thread(
                build_candidate, settings, only=only, quick=quick, feedback=feedback)
        except Exception as exc:
            result = JobResult(name, "failed", reasons=[f"build failed: {exc}"],
                               details={"seconds": round(time.perf_counter() - started, 1)})
            log.exception("%s: build failed", name)
            if record:
                await record_job_run(store, result)
            return result
        candidate = artifacts.read_manifest(out)
        current = artifacts.read_manifest(previous) if previous else {}
        try:
            gate = quality_gate(current, candidate, tolerance, noise_z)
            started_probe = time.perf_counter()
            old_scores, new_scores = await asyncio.to_thread(
                run_probe, Path(settings.data_dir), previous, out)
            probe_gate(gate, old_scores, new_scores, tolerance, noise_z)
            log.info("%s: gate checks took %.1fs", name, time.perf_counter() - started_probe)
        except Exception as exc:
            shutil.rmtree(out, ignore_errors=True)
            log.exception("%s: could not evaluate candidate %s", name, out.name)
            result = JobResult(name, "failed", current.get("version"), out.name,
                               [f"evaluation failed: {exc}"],
                               {"seconds": round(time.perf_counter() - started, 1)})
            if record:
                await record_job_run(store, result)
            return result
        details = {
            "only": only, "quick": quick, "tolerance": tolerance, "previous": current.get("version"),
            "compared": gate.compared, "metrics": candidate.get("metrics", {}),
            "build_seconds": round(time.perf_counter() - started, 1),
        }
        if feedback is not None:
            details["feedback_events"] = int(len(feedback))
            details["feedback_users"] = int(feedback["user_key"].nunique()) if len(feedback) else 0
        if gate.passed or force or previous is None:
            artifacts.publish(root, out)
            details["pruned"] = [p.name for p in artifacts.prune(root, keep=keep)]
            forced = force if isinstance(force, str) else "forced"
            reasons = gate.reasons + ([forced] if force and not gate.passed else [])
            result = JobResult(name, "published", out.name, out.name, reasons, details)
            log.info("%s: published %s (%s)", name, out.name, "; ".join(reasons))
        else:
            shutil.rmtree(out, ignore_errors=True)
            result = JobResult(name, "rejected", current.get("version"), out.name,
                               gate.reasons, details)
            log.warning("%s: candidate %s rejected, keeping %s: %s", name, out.name,
                        current.get("version"), "; ".join(gate.reasons))
        result.details["seconds"] = round(time.perf_counter() - started, 1)
    if record:
        await record_job_run(store, result)
    return result


async def retrain(settings: Settings, store: Any = None, **kwargs: Any) -> JobResult:
    """Retrain collab on MovieLens + all non-retracted feedback; gated publish."""
    feedback = await store.feedback_frame() if store is not None else None
    log.info("retrain: %d feedback events from %d chat users",
             0 if feedback is None else len(feedback),
             0 if feedback is None or feedback.empty else feedback["user_key"].nunique())
    kwargs.setdefault("only", list(RETRAIN_STAGES))
    forgotten = await forgotten_since_current(settings, store)
    if forgotten:
        log.info("retrain: %d user(s) asked to be forgotten since the served version was "
                 "built; the candidate is published whatever the gate says", forgotten)
        kwargs["force"] = kwargs.get("force") or f"forced: {forgotten} user(s) forgotten"
    return await gated_build(settings, name="retrain", store=store, feedback=feedback, **kwargs)


async def forgotten_since_current(settings: Settings, store: Any) -> int:
    """How many /forget requests came after the served version was built."""
    if store is None:
        return 0
    from bot.store.store import FORGET_JOB  # lazy: SQLAlchemy; only jobs with a store

    try:
        built = artifacts.read_manifest(artifacts.current_version(Path(settings.artifacts)))
    except DataError:
        return 0
    created = datetime.fromisoformat(built["created_at"])
    runs = await store.job_runs(FORGET_JOB, limit=1000)
    return sum(1 for run in runs if _aware(run.finished_at) >= created)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def catalog_changed(settings: Settings) -> tuple[bool, list[str]]:
    """Did the raw data the current version was built from change? (and which files)"""
    from .build import data_checksums  # lazy: see build_candidate

    try:
        manifest = artifacts.read_manifest(artifacts.current_version(Path(settings.artifacts)))
    except DataError:
        return True, ["no current version"]
    old = manifest.get("data_checksums", {})
    new = data_checksums(Path(settings.data_dir))
    changed = sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))
    return bool(changed), changed


async def rebuild_content(settings: Settings, store: Any = None, force: bool = False,
                          **kwargs: Any) -> JobResult:
    """Rebuild the catalog, content and cross-media indices if the raw data changed."""
    from .build import stage_names  # lazy: see build_candidate

    changed, files = await asyncio.to_thread(catalog_changed, settings)
    if not changed and not force:
        result = JobResult("rebuild-content", "unchanged", reasons=["raw data unchanged"])
        try:
            result.version = artifacts.current_version(Path(settings.artifacts)).name
        except DataError:
            pass
        log.info("rebuild-content: raw data unchanged; nothing to do")
        await record_job_run(store, result)
        return result
    feedback = await store.feedback_frame() if store is not None else None
    only = [s for s in CONTENT_STAGES if s in stage_names()]
    result = await gated_build(settings, name="rebuild-content", only=only, store=None,
                               feedback=feedback, force=force, record=False, **kwargs)
    result.details["changed_files"] = files[:50]
    await record_job_run(store, result)
    return result
