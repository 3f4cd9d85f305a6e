"""Retrain, gate, publish: the jobs that turn feedback into a better model.

``retrain`` builds a candidate version (collab retrained on MovieLens + every
non-retracted chat feedback event; the other components hard-linked from the current
version) and publishes it only if it is not worse than the current version beyond a
tolerance, on two paired checks: per-user validation NDCG@10 of the two builds on the
validation users both share (``GATE_METRICS``; the collab stage writes the per-user
scores), and a held-out probe of the served ``recommend()`` on MovieLens ratings no build
trains on (engine/collab/probe.py). Each rejects a mean drop that is above the tolerance
and above two paired standard errors. Otherwise the candidate is deleted and the
reason recorded in ``job_runs``. ``rebuild_content`` does the same for the catalog-driven
components when the raw data changed. Every job holds the ``JobLock``, so two schedulers
(or a scheduler and a cron job) never train at once.
"""

from __future__ import annotations

import asyncio
import json
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
# A drop is rejected only when it is also above this many standard errors of the paired
# per-user difference (the same users scored by both versions, so the noise left is the
# models', not the sampling's); 0 turns that off. Versions built before per-user scores
# were written fall back to comparing the two means, whose (unpaired) noise is far larger.
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


def paired_check(old: list[float], new: list[float], tolerance: float, noise_z: float
                 ) -> dict[str, Any]:
    """The paired comparison of two systems' per-user scores (same users, same order).

    Rejects (``passed`` False) when the mean drop is above ``tolerance`` (relative to the
    current mean) *and* above ``noise_z`` paired standard errors."""
    (mean_old, _), (mean_new, _) = mean_se(old), mean_se(new)
    diff, se = paired_difference(new, old)
    allowed = max(tolerance * mean_old, noise_z * se)
    return {"users": len(old), "current": round(mean_old, 6), "candidate": round(mean_new, 6),
            "delta": round(diff, 6), "paired_se": round(se, 6), "allowed_drop": round(allowed, 6),
            "users_changed": sum(a != b for a, b in zip(old, new, strict=True)),
            "passed": bool(-diff <= allowed + 1e-12)}


def paired_text(c: dict[str, Any], tolerance: float, noise_z: float) -> str:
    """"0.1580 -> 0.0640 (Δ -0.0940 ± 0.0120 paired SE over 121 users; allowed drop ...)"."""
    return (f"{c['current']:.4f} -> {c['candidate']:.4f} (Δ {c['delta']:+.4f} ± {c['paired_se']:.4f} "
            f"paired SE over {c['users']} users; allowed drop {c['allowed_drop']:.4f}, the larger "
            f"of {tolerance:.0%} and {noise_z:g} SE)")


def quality_gate(current: dict[str, Any], candidate: dict[str, Any],
                 tolerance: float = DEFAULT_TOLERANCE, noise_z: float = NOISE_Z,
                 metrics: dict[str, str] | None = None,
                 paired: dict[str, tuple[dict, dict]] | None = None) -> GateResult:
    """Is ``candidate`` not worse than ``current`` beyond the allowed drop on every gate
    metric?

    With per-user validation scores for both versions (``paired``: component ->
    (current {user: score}, candidate {user: score}), see ``validation_scores``) the two
    are compared on the users both were validated on: mean difference and its paired
    standard error; a drop is rejected when it is above ``tolerance`` (relative) and above
    ``noise_z`` paired SEs. Without them (a version built before per-user scores were
    written) the two manifest means are compared, forgiving the unpaired sampling noise."""
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
        pair = (paired or {}).get(component)
        common = sorted(set(pair[0]) & set(pair[1])) if pair else []
        if common:
            check = paired_check([pair[0][u] for u in common], [pair[1][u] for u in common],
                                 tolerance, noise_z)
            compared.update(paired=check, allowed_drop=check["allowed_drop"])
            text = f"{component} {metric} " + paired_text(check, tolerance, noise_z)
            if check["passed"]:
                result.reasons.append(text)
            else:
                result.passed = False
                result.reasons.append(text.replace(f"{metric} ", f"{metric} fell ", 1))
            _model_note(result, current, candidate, component)
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
        _model_note(result, current, candidate, component)
    if current.get("quick") != candidate.get("quick"):
        result.reasons.append(f"note: current quick={current.get('quick')}, "
                              f"candidate quick={candidate.get('quick')}")
    return result


def _model_note(result: GateResult, current: dict, candidate: dict, component: str) -> None:
    kinds = [m.get("components", {}).get(component, {}).get("metrics", {}).get("default")
             for m in (current, candidate)]
    if kinds[0] and kinds[1] and kinds[0] != kinds[1]:
        # worth knowing when reading a decision
        result.reasons.append(f"note: {component} model changed {kinds[0]} -> {kinds[1]}")


def validation_scores(version_dir: Path | None, component: str = "collab") -> dict | None:
    """The per-user validation scores a build wrote ({user: score}), or None."""
    if version_dir is None:
        return None
    from engine.collab.build import VALIDATION_SCORES  # lazy: numpy/pandas

    path = Path(version_dir) / component / VALIDATION_SCORES
    try:
        return json.loads(path.read_text())["scores"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def probe_held_out(current: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """Did both versions leave the same probe ratings out of training?"""
    def held(m: dict) -> Any:
        return m.get("components", {}).get("collab", {}).get("metrics", {}).get("probe_holdout")

    return bool(held(current)) and held(current) == held(candidate)


# The served-path probe, a held-out check: engine/collab/probe.py picks 300 MovieLens
# users and hides the later fifth of their >= 4-star films; every collab build leaves
# exactly those ratings out of training (manifest: collab metrics "probe_holdout"). Both
# versions' served recommend() get the rest of each user's ratings as history; NDCG@10
# against the hidden films, paired user by user. It gates only when both versions held
# out the same probe (a version that trained on the hidden films would be favoured).
PROBE_USERS = 300
PROBE_K = 10


def probe_queries(data_dir: Path, users: int = PROBE_USERS, seed: int = 42
                  ) -> list[tuple[list[tuple[int, float]], set[int]]]:
    # lazy: this module is imported when the CLI parser is built; numpy/pandas are not
    from engine.collab.interactions import ML_SMALL, load_ratings
    from engine.collab.probe import probe_holdout

    ratings = load_ratings(Path(data_dir) / ML_SMALL)
    return [(history, hidden) for _, history, hidden in probe_holdout(ratings, users, seed)]


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
    check = paired_check(old, new, tolerance, noise_z)
    gate.compared["probe"] = {"metric": f"ndcg@{PROBE_K}", **check}
    text = (f"held-out probe ndcg@{PROBE_K} of served recommendations "
            + paired_text(check, tolerance, noise_z).replace(" users;", " MovieLens users;"))
    if check["passed"]:
        gate.reasons.append(text)
    else:
        gate.passed = False
        gate.reasons.append(text.replace("recommendations ", "recommendations fell ", 1))


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
            pair = (validation_scores(previous), validation_scores(out))
            gate = quality_gate(current, candidate, tolerance, noise_z,
                                paired={"collab": pair} if all(pair) else None)
            started_probe = time.perf_counter()
            if "collab" not in candidate.get("components", {}):
                pass  # nothing collab to probe (a fake or partial registry)
            elif previous is not None and probe_held_out(current, candidate):
                old_scores, new_scores = await asyncio.to_thread(
                    run_probe, Path(settings.data_dir), previous, out)
                probe_gate(gate, old_scores, new_scores, tolerance, noise_z)
            elif previous is not None:
                gate.reasons.append("note: probe skipped: the current version did not hold "
                                    "out the probe's ratings (built before it was held out)")
            log.debug("%s: gate checks took %.1fs", name, time.perf_counter() - started_probe)
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
            log.info("%s", decision_line(name, out.name, gate, "published" + (
                " (forced)" if force and not gate.passed else "")))
        else:
            shutil.rmtree(out, ignore_errors=True)
            result = JobResult(name, "rejected", current.get("version"), out.name,
                               gate.reasons, details)
            log.warning("%s", decision_line(name, out.name, gate,
                                            f"rejected, keeping {current.get('version')}"))
        result.details["seconds"] = round(time.perf_counter() - started, 1)
    if record:
        await record_job_run(store, result)
    return result


def decision_line(name: str, candidate: str, gate: GateResult, outcome: str) -> str:
    """One readable log line per decision: "retrain: candidate v… collab val_ndcg@10 0.1210
    vs current 0.1190 (Δ +0.0020 ± 0.0030) -> published". The reasons and the full
    metrics are in the job-run record and the report."""
    parts = []
    for key, c in gate.compared.items():
        c = {**c, **c.get("paired", {})}
        if c.get("candidate") is None or c.get("current") is None:
            continue
        delta = f" (Δ {c['delta']:+.4f} ± {c['paired_se']:.4f})" if "delta" in c else ""
        parts.append(f"{key} {c.get('metric', '')} {c['candidate']:.4f} "
                     f"vs current {c['current']:.4f}{delta}")
    return f"{name}: candidate {candidate} {', '.join(parts) or 'no comparable metric'} -> {outcome}"


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
