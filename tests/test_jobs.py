"""Retrain jobs: quality gate, publish or keep, prune, lock, scheduler, CLI, report.

The catalog stage is the real one (real data); the trained component is a small stage
registered here under the name "collab" whose validation metric each test sets, so the
gate's decisions can be driven exactly. tests/test_jobs_loop.py runs the real collab.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot.settings import BotSettings
from bot.store import FeedbackEvent, Store
from engine import artifacts
from engine.spec import StageSpec
from jobs import retrain as jobs
from jobs.runs import JobLock, JobLocked
from jobs.scheduler import Schedule, run_scheduler

FAKE: dict = {}


def fake_collab_stage(ctx) -> dict:
    """Stands in for the collab trainer: reports the metric the test chose."""
    if FAKE.get("block"):
        FAKE["started"].set()
        FAKE["block"].wait(60)
    if FAKE.get("fail"):
        raise RuntimeError("training diverged")
    out = ctx.component_dir("collab")
    fb = ctx.feedback
    users = sorted(set(fb["user_key"])) if fb is not None and len(fb) else []
    (out / "users.json").write_text(json.dumps(users))
    # probe_holdout: as the real stage reports it, so the gate runs the (here empty) probe
    return {"files": ["collab/users.json"],
            "metrics": {"val_ndcg@10": FAKE["ndcg"], "probe_holdout": {"users": 300}},
            "params": {"feedback_rows": 0 if fb is None else len(fb)}}


STAGES = (StageSpec("catalog", "engine.datasets.catalog_build:build_stage"),
          StageSpec("collab", f"{__name__}:fake_collab_stage"))  # this very module object


@pytest.fixture(autouse=True)
def stages(monkeypatch):
    monkeypatch.setattr("jobs.build.STAGES", STAGES)
    FAKE.clear()
    FAKE["ndcg"] = 0.30


@pytest.fixture(scope="module")
def base_version(tmp_path_factory, data_dir) -> Path:
    """One real catalog build (+ the fake collab at 0.30), shared by the tests below."""
    from engine.build_context import BuildContext
    from jobs.build import run_build

    root = tmp_path_factory.mktemp("base")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("jobs.build.STAGES", STAGES)
        FAKE["ndcg"] = 0.30
        ctx = BuildContext(data_dir=data_dir, out_dir=artifacts.new_version_dir(root),
                           quick=True, progress=False)
        return run_build(ctx)


def clone(src: Path, root: Path, **manifest_changes) -> Path:
    """Publish a copy of ``src`` (hard links) into ``root``."""
    dst = artifacts.new_version_dir(root)
    for path in src.rglob("*"):
        if path.is_file() and path.name != artifacts.MANIFEST:
            (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dst / path.relative_to(src))
    manifest = {**artifacts.read_manifest(src), "version": dst.name, **manifest_changes}
    artifacts.write_manifest(dst, manifest)
    artifacts.publish(root, dst)
    return dst


@pytest.fixture
async def env(tmp_path, base_version, data_dir):
    root = tmp_path / "artifacts"
    clone(base_version, root)
    store = await Store.open(f"sqlite:///{tmp_path}/jobs.db")
    settings = BotSettings(data_dir=data_dir, artifacts=root,
                        database_url=f"sqlite:///{tmp_path}/jobs.db")
    yield settings, store
    await store.close()


def current(settings) -> Path:
    return artifacts.current_version(settings.artifacts)


# -- the gate itself ------------------------------------------------------------------
def manifest(ndcg, quick=True):
    comp = {} if ndcg is None else {"val_ndcg@10": ndcg}
    return {"quick": quick, "components": {"collab": {"metrics": comp}}}


@pytest.mark.parametrize(("old", "new", "passed"), [
    (0.30, 0.30, True), (0.30, 0.31, True), (0.30, 0.2941, True),  # within 2 %
    (0.30, 0.2939, False), (0.30, 0.10, False), (None, 0.10, True), (0.30, None, False),
])
def test_quality_gate(old, new, passed):
    gate = jobs.quality_gate(manifest(old), manifest(new), tolerance=0.02)
    assert gate.passed is passed
    compared = gate.compared["collab"]
    assert (compared["metric"], compared["current"], compared["candidate"]) == (
        "val_ndcg@10", old, new)
    if not passed and new is not None:
        assert "fell 0.3000 -> " in gate.reasons[0]


def with_users(ndcg, users):
    m = manifest(ndcg)
    m["components"]["collab"]["metrics"].update(
        default="ease", validation={"ease": {"ndcg@10": ndcg, "users": users}})
    return m


def test_gate_forgives_sampling_noise_of_small_validation_sets():
    # 0.1657 -> 0.1379 is what adding 26 chat users did to a --quick build (121 users)
    noisy = jobs.quality_gate(with_users(0.1657, 121), with_users(0.1379, 127))
    assert noisy.passed and noisy.compared["collab"]["validation_users"] == [121, 127]
    assert "noise 0.09" in noisy.reasons[0]
    # the same drop measured over 20,000 users is real
    assert not jobs.quality_gate(with_users(0.1657, 20000), with_users(0.1379, 20000)).passed
    # a collapse is rejected even on few users; noise_z=0 is the plain tolerance
    assert not jobs.quality_gate(with_users(0.1657, 121), with_users(0.03, 121)).passed
    assert not jobs.quality_gate(with_users(0.1657, 121), with_users(0.1379, 121),
                                 noise_z=0).passed
    als = with_users(0.1945, 125)
    als["components"]["collab"]["metrics"].update(
        default="als", validation={"als": {"ndcg@10": 0.1945, "users": 125}})
    changed = jobs.quality_gate(with_users(0.2138, 123), als)
    assert changed.passed and "note: collab model changed ease -> als" in changed.reasons


def test_probe_gate_is_paired():
    old = [0.5, 0.2, 0.0, 1.0] * 50
    same_but_one = [*old[:-1], 0.9]
    gate = jobs.GateResult(passed=True)
    jobs.probe_gate(gate, old, same_but_one, tolerance=0.02, noise_z=2)
    assert gate.passed and gate.compared["probe"]["users_changed"] == 1
    worse = [x * 0.9 for x in old]  # every user a little worse: a real 10% drop
    gate = jobs.GateResult(passed=True)
    jobs.probe_gate(gate, old, worse, tolerance=0.02, noise_z=2)
    assert not gate.passed
    assert "held-out probe ndcg@10 of served recommendations fell" in gate.reasons[0]
    gate = jobs.GateResult(passed=True)
    jobs.probe_gate(gate, old, None, tolerance=0.02, noise_z=2)
    assert not gate.passed
    gate = jobs.GateResult(passed=True)
    jobs.probe_gate(gate, None, None, tolerance=0.02, noise_z=2)  # nothing served yet
    assert gate.passed and not gate.reasons


def paired(scores: dict) -> dict:
    return {"collab": scores}


def test_paired_gate_compares_the_same_users():
    # what the old unpaired gate let through: 0.158 -> 0.064 over 121 validation users
    users = [str(u) for u in range(121)]
    rng = np.random.default_rng(0)
    old = {u: float(v) for u, v in zip(users, rng.uniform(0.0, 0.316, 121), strict=True)}
    collapsed = {u: v * 0.4 for u, v in old.items()}
    gate = jobs.quality_gate(with_users(0.158, 121), with_users(0.064, 121),
                             paired=paired((old, collapsed)))
    assert not gate.passed
    reason = gate.reasons[0]
    assert reason.startswith("collab val_ndcg@10 fell ") and "paired SE over 121 users" in reason
    check = gate.compared["collab"]["paired"]
    assert check["delta"] < -0.08 and check["paired_se"] < 0.01 and not check["passed"]
    # one user a little worse: above 2 % but within two paired SEs -> published
    one_worse = {**old, users[0]: 0.0}
    gate = jobs.quality_gate(with_users(0.158, 121), with_users(0.157, 121),
                             paired=paired((old, one_worse)))
    assert gate.passed, gate.reasons
    # every user slightly worse: tiny SE, but the drop is within the 2 % tolerance
    tiny = {u: v * 0.99 for u, v in old.items()}
    assert jobs.quality_gate(with_users(0.158, 121), with_users(0.156, 121),
                             paired=paired((old, tiny))).passed
    # only users validated in both count; new chat users' ids are simply not paired
    extra = {**collapsed, "chat:store:1": 1.0}
    gate = jobs.quality_gate(with_users(0.158, 121), with_users(0.07, 122),
                             paired=paired((old, extra)))
    assert not gate.passed and gate.compared["collab"]["paired"]["users"] == 121


def test_decision_line_is_one_readable_line():
    gate = jobs.GateResult(passed=True)
    jobs.probe_gate(gate, [0.5, 0.2, 0.0, 1.0] * 50, [0.5, 0.2, 0.0, 1.0] * 50, 0.02, 2)
    line = jobs.decision_line("retrain", "v1", gate, "published")
    assert line == ("retrain: candidate v1 probe ndcg@10 0.4250 vs current 0.4250 "
                    "(Δ +0.0000 ± 0.0000) -> published")


def test_probe_ratings_are_left_out_of_training(data_dir, tmp_path):
    from engine.build_context import BuildContext
    from engine.collab.build import training_ratings
    from engine.collab.interactions import ML_SMALL, load_ratings
    from engine.collab.probe import probe_holdout

    ratings, held = training_ratings(BuildContext(data_dir=data_dir, out_dir=tmp_path))
    probe = probe_holdout(load_ratings(data_dir / ML_SMALL))
    hidden = {(u, m) for u, _, films in probe for m in films}
    assert held["users"] == len(probe) == 300 and held["hidden_ratings"] == len(hidden)
    trained = set(zip(ratings["user"], ratings["item"], strict=True))
    assert not hidden & trained
    # the histories the probe asks with are trained on: only the hidden films are out
    assert {(u, m) for u, history, _ in probe for m, _ in history} <= trained
    queries = jobs.probe_queries(data_dir)
    assert [h for _, h in queries] == [films for _, _, films in probe]


def test_probe_queries_hide_each_users_latest_likes(data_dir):
    queries = jobs.probe_queries(data_dir, users=50)
    assert len(queries) == 50 and queries == jobs.probe_queries(data_dir, users=50)
    for history, hidden in queries:
        assert hidden and not hidden & {m for m, _ in history}
        assert len(history) >= 4


# -- retrain ------------------------------------------------------------------------------
async def like(store, platform_user, movies, tag=""):
    uid = await store.user_id("telegram", platform_user)
    for m in movies:
        await store.record_feedback(FeedbackEvent(uid, m, "like", None, "test", None,
                                                  f"{platform_user}:{m}{tag}"))
    return uid


async def test_retrain_publishes_a_candidate_that_is_not_worse(env):
    settings, store = env
    before = current(settings)
    await like(store, "1", [1, 2, 3])
    FAKE["ndcg"] = 0.31
    result = await jobs.retrain(settings, store)
    assert result.status == "published"
    after = current(settings)
    assert after != before and after.name == result.version == result.candidate
    # the catalog was reused by hard link: no file of a published version was rewritten
    assert (after / "catalog.parquet").stat().st_ino == (before / "catalog.parquet").stat().st_ino
    assert json.loads((after / "collab" / "users.json").read_text()) == ["store:1"]
    runs = await store.job_runs("retrain")
    assert runs[0].status == "published"
    assert runs[0].details["details"]["feedback_events"] == 3
    assert runs[0].details["details"]["compared"]["collab"]["candidate"] == 0.31


async def test_retrain_keeps_current_when_candidate_is_worse(env):
    settings, store = env
    before = current(settings)
    FAKE["ndcg"] = 0.25
    result = await jobs.retrain(settings, store)
    assert result.status == "rejected" and result.version == before.name
    assert current(settings) == before
    assert not (settings.artifacts / result.candidate).exists()  # discarded
    assert [p.name for p in artifacts.list_versions(settings.artifacts)] == [before.name]
    run = (await store.job_runs("retrain"))[0]
    assert run.status == "rejected"
    assert "val_ndcg@10 fell 0.3000 -> 0.2500 (-16.7%)" in run.details["reasons"][0]
    # --force overrides the gate, and says so
    forced = await jobs.retrain(settings, store, force=True)
    assert forced.status == "published" and "forced" in forced.reasons


async def test_a_forget_publishes_the_next_model_past_the_gate(env):
    settings, store = env
    FAKE["ndcg"] = 0.25  # a worse candidate: normally rejected
    uid = await store.user_id("telegram", "42")
    await store.forget_user(uid)
    result = await jobs.retrain(settings, store)
    assert result.status == "published"
    assert "forced: 1 user(s) forgotten" in result.reasons
    # once the model without them is served, the gate applies again
    FAKE["ndcg"] = 0.20
    assert (await jobs.retrain(settings, store)).status == "rejected"


async def test_failed_build_is_recorded_and_leaves_nothing_behind(env):
    settings, store = env
    before = current(settings)
    FAKE["fail"] = True
    result = await jobs.retrain(settings, store)
    assert result.status == "failed" and "training diverged" in result.reasons[0]
    assert current(settings) == before
    assert len(artifacts.list_versions(settings.artifacts)) == 1
    assert len([p for p in settings.artifacts.iterdir() if p.name.startswith("v")]) == 1
    assert (await store.stats())["last_job_run"]["status"] == "failed"


async def test_failed_evaluation_discards_the_candidate(env, monkeypatch):
    settings, store = env
    before = current(settings)

    def broken_probe(*args):
        raise OSError("ratings.csv vanished")

    monkeypatch.setattr(jobs, "run_probe", broken_probe)
    result = await jobs.retrain(settings, store)
    assert result.status == "failed" and "ratings.csv vanished" in result.reasons[0]
    assert current(settings) == before
    assert [p.name for p in settings.artifacts.iterdir() if p.name.startswith("v")] == [before.name]


async def test_keep_last_n_versions(env):
    settings, store = env
    for i in range(4):
        FAKE["ndcg"] = 0.30 + i / 100
        # version names carry one-second stamps (engine.artifacts), and prune orders by
        # name: real builds take longer than a second, these fake ones do not
        await asyncio.sleep(1.05)
        assert (await jobs.retrain(settings, store, keep=2)).status == "published"
    versions = artifacts.list_versions(settings.artifacts)
    assert len(versions) == 2 and versions[-1] == current(settings)


async def test_forgotten_user_leaves_the_next_model(env):
    settings, store = env
    ann = await like(store, "ann", [1, 2])
    await like(store, "bob", [3])
    await jobs.retrain(settings, store)
    assert json.loads((current(settings) / "collab/users.json").read_text()) == [
        f"store:{ann}", f"store:{ann + 1}"]
    await store.forget_user(ann)
    await jobs.retrain(settings, store)
    assert json.loads((current(settings) / "collab/users.json").read_text()) == [
        f"store:{ann + 1}"]


# -- lock ------------------------------------------------------------------------------
async def test_two_jobs_never_train_at_once(env):
    settings, store = env
    FAKE["block"], FAKE["started"] = threading.Event(), threading.Event()
    first = asyncio.create_task(jobs.retrain(settings, store))
    try:
        await asyncio.to_thread(FAKE["started"].wait, 60)
        with pytest.raises(JobLocked) as err:
            await jobs.retrain(settings, store)
        assert '"job": "retrain"' in str(err.value)
        with pytest.raises(JobLocked):
            await jobs.rebuild_content(settings, store, force=True)
    finally:
        FAKE["block"].set()
    assert (await first).status == "published"
    assert not JobLock.for_artifacts(settings.artifacts).is_held()


def _hold_lock(path, ready):
    with JobLock(path).hold("other scheduler"):
        ready.set()
        time.sleep(60)


def test_lock_is_shared_across_processes_and_freed_by_a_crash(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(tmp_path / "jobs.lock", ready))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(JobLocked) as err:
            with JobLock(tmp_path / "jobs.lock").hold("retrain"):
                pass
        assert "other scheduler" in str(err.value) and str(proc.pid) in str(err.value)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # a crashed scheduler...
        proc.join()
    with JobLock(tmp_path / "jobs.lock").hold("retrain"):  # ...does not block the next
        pass


# -- rebuild-content, scheduler, CLI, report ---------------------------------------------
async def test_rebuild_content_only_when_the_data_changed(env):
    settings, store = env
    before = current(settings)
    result = await jobs.rebuild_content(settings, store)
    assert result.status == "unchanged" and current(settings) == before
    # a version built from other raw files: the catalog is rebuilt, collab reused
    stale = clone(before, settings.artifacts, data_checksums={"movielens/x.csv": "0"})
    result = await jobs.rebuild_content(settings, store)
    assert result.status == "published", result.reasons
    assert "movielens/x.csv" in result.details["changed_files"]
    new = current(settings)
    assert new != stale
    assert (new / "collab/users.json").stat().st_ino == (stale / "collab/users.json").stat().st_ino
    assert (new / "catalog.parquet").stat().st_ino != (stale / "catalog.parquet").stat().st_ino


async def test_scheduler_runs_due_jobs_once(env, monkeypatch):
    settings, store = env
    ran: list[str] = []

    async def fake_eval(settings, store):
        ran.append("eval")
        await store.record_job_run("eval", "ok", {})

    monkeypatch.setattr("jobs.report.evaluate_current", fake_eval)
    schedule = Schedule(retrain_every=3600, content_every=3600, eval_every=3600, quick=True)
    await run_scheduler(settings, store, schedule, once=True)
    names = {r.name: r.status for r in await store.job_runs()}
    assert names == {"retrain": "published", "rebuild-content": "unchanged", "eval": "ok"}
    # everything ran just now: a restarted scheduler has nothing due
    await run_scheduler(settings, store, schedule, once=True)
    assert len(await store.job_runs()) == 3 and ran == ["eval"]
    # and a stop request ends the loop
    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler(settings, store, schedule, stop=stop))
    await asyncio.sleep(0.1)
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


def test_cli_retrain_and_report(env, capsys):
    from bot.cli import main

    settings, _ = env
    common = ["--artifacts", str(settings.artifacts), "--data-dir", str(settings.data_dir),
              "--database-url", settings.database_url]
    FAKE["ndcg"] = 0.2
    assert main(["jobs", "retrain", "--quick", *common]) == 0
    assert "retrain: rejected" in capsys.readouterr().out
    FAKE["ndcg"] = 0.4
    assert main(["jobs", "retrain", "--quick", "--json", *common]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "published" and out["version"] == current(settings).name
    report_dir = settings.artifacts.parent / "report"
    assert main(["report", *common, "--out", str(report_dir)]) == 0
    page = (report_dir / "index.html").read_text()
    # the rejected candidate is in the history even though its directory is gone
    assert page.count("class='rejected'") >= 2 and "val_ndcg@10" in page
    assert "<img src='collab.png'" in page and "<img src='catalog.png'" in page
    assert (report_dir / "collab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_unreachable_database_is_one_friendly_line(tmp_path, capsys):
    from bot.cli import main

    code = main(["jobs", "retrain", "--artifacts", str(tmp_path),
                 "--database-url", "postgresql://bot:s3cret@127.0.0.1:1/moviebot"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot open the feedback store" in err
    assert "s3cret" not in err and "Traceback" not in err
