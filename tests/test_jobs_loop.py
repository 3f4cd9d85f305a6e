"""The learning loop end to end, through the chat command layer and the real collab model.

A new user likes horror films in chat -> their /recommend changes at once (fold-in, no
retrain) -> many chat users co-like two unrelated films -> after a retrain (real collab
stage, --quick) other users' results for one of them bring up the other -> /forget
deletes the user's events from the store and the next model is trained without them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.commands import CommandLayer, User
from bot.settings import BotSettings
from bot.store import Store
from engine import artifacts
from engine.queries import HistoryQuery
from engine.reload import EngineHolder
from jobs import retrain as jobs

pytestmark = pytest.mark.slow

# Jaws, The Exorcist, The Shining, The Blair Witch Project, Alien
HORROR = [1387, 1997, 1258, 2710, 1214]
# Films nobody would connect, each with 15-25 MovieLens ratings (enough for a collab
# vector in --quick mode): Three Colors: White, Michael Clayton, Thunderball... and
# Howard the Duck. (Histories under 3 films get cold-start picks, hence three.)
FILMS_A = [308, 55276, 2993]
FILM_B = 2450
FANS = 25


@pytest.fixture
async def loop_env(tmp_path, quick_artifacts, data_dir):
    root = tmp_path / "artifacts"
    src = artifacts.current_version(quick_artifacts)
    dst = root / src.name
    for path in src.rglob("*"):  # a private copy (hard links) the test may publish into
        if path.is_file():
            (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dst / path.relative_to(src))
    artifacts.publish(root, dst)
    url = f"sqlite:///{tmp_path}/loop.db"
    store = await Store.open(url)
    settings = BotSettings(data_dir=data_dir, artifacts=root, database_url=url)
    holder = EngineHolder(root, check_every=0.0)
    yield settings, store, holder, CommandLayer(holder, store=store)
    await store.close()


def rank_of(engine, liked: list[int], wanted: int, k: int = 100) -> int | None:
    query = HistoryQuery.of((m, "like") for m in liked)
    ids = [r.movie.movie_id for r in engine.recommend("collab", query, k=k).results]
    return ids.index(wanted) + 1 if wanted in ids else None


def collab_meta(settings) -> dict:
    return json.loads((artifacts.current_version(settings.artifacts) / "collab" /
                       "collab.json").read_text())


async def test_feedback_loop_end_to_end(loop_env):
    settings, store, holder, layer = loop_env
    newbie = User("telegram", "9001", "Newbie")
    first_version = holder.version

    reply = await layer.handle("/recommend", newbie)
    assert "don't know your taste" in reply.text
    for movie in HORROR:
        reply = await layer.press(f"like:{movie}", newbie, event_id=f"cb-{movie}")
        assert reply.text.startswith("👍 Noted")
    # a redelivered button press is stored once
    await layer.press(f"like:{HORROR[0]}", newbie, event_id=f"cb-{HORROR[0]}")

    # 1. fold-in: the very next /recommend uses the likes, same model version
    reply = await layer.handle("/recommend", newbie)
    picked = [c.movie_id for c in reply.cards]
    assert picked and not set(picked) & set(HORROR)
    horror_share = sum("Horror" in holder().movie(m).genres for m in picked) / len(picked)
    assert horror_share >= 0.5, [holder().movie(m).label for m in picked]
    assert holder.version == first_version

    # 2. co-likes by chat users reach other users after a retrain
    other = User("discord", "4242", "Other")
    for movie in FILMS_A:
        await layer.press(f"like:{movie}", other, event_id=f"other-{movie}")
    before = rank_of(holder(), FILMS_A, FILM_B)
    assert before is None, before                      # not in the top 100
    for i in range(FANS):
        fan = User("discord", f"fan{i}")
        for movie in (*FILMS_A, FILM_B):
            await layer.press(f"like:{movie}", fan, event_id=f"fan{i}-{movie}")
    reply = await layer.handle("/recommend", other)
    assert FILM_B not in [c.movie_id for c in reply.cards]  # nothing changes until a retrain

    result = await jobs.retrain(settings, store, quick=True)
    assert result.status == "published", result.reasons
    assert result.details["feedback_users"] == FANS + 2
    assert holder.reload() and holder.version == result.version
    after = rank_of(holder(), FILMS_A, FILM_B)
    assert after is not None and after <= 3, (before, after)
    reply = await layer.handle("/recommend", other)
    assert FILM_B in [c.movie_id for c in reply.cards]
    meta = collab_meta(settings)

    # 3. /forget: out of the store at once, out of the next model
    uid = await store.user_id("telegram", "9001")
    reply = await layer.press("forget:yes", newbie)
    assert "deleted 5 reactions" in reply.text
    frame = await store.feedback_frame()
    assert f"store:{uid}" not in set(frame["user_key"])
    assert len(frame) == 4 * FANS + len(FILMS_A)
    # No force needed: a /forget since the served version makes the next retrain publish
    # whatever the gate says (the model changes family here and the gate would refuse).
    result = await jobs.retrain(settings, store, quick=True)
    assert result.status == "published"
    assert result.details["feedback_users"] == FANS + 1
    forgotten = collab_meta(settings)
    assert forgotten["users"] == meta["users"] - 1
    assert forgotten["ratings"] == meta["ratings"] - len(HORROR)
    runs = await store.job_runs("retrain")
    assert [r.status for r in runs] == ["published", "published"]
    assert holder.reload() and holder.version == result.version
    reply = await layer.handle("/recommend", newbie)
    assert "don't know your taste" in reply.text


# -- the gate on real builds ---------------------------------------------------------------
async def test_gate_accepts_a_no_op_retrain_and_rejects_a_worse_model(loop_env, monkeypatch,
                                                                      caplog):
    """Same data, same seed: published (Δ 0 on the same validation users, the held-out
    probe unchanged). Popularity forced as the default model: rejected, with the paired
    numbers in the reason and in one log line."""
    import logging

    from engine.collab import build as collab_build
    from engine.collab.models import Popularity

    settings, store, holder, _ = loop_env
    before = holder.version
    caplog.set_level(logging.INFO, logger="moviebot.jobs")
    result = await jobs.retrain(settings, store, quick=True)
    assert result.status == "published", result.reasons
    paired = result.details["compared"]["collab"]["paired"]
    assert paired["delta"] == 0.0 and paired["users"] > 100
    probe = result.details["compared"]["probe"]
    assert probe["users"] == 300 and abs(probe["delta"]) <= probe["allowed_drop"]
    published = [r.message for r in caplog.records if "-> published" in r.message]
    assert len(published) == 1 and "(Δ +0.0000 ± 0.0000)" in published[0]

    monkeypatch.setattr(collab_build, "candidates", lambda quick: [Popularity()])
    worse = await jobs.retrain(settings, store, quick=True)
    assert worse.status == "rejected", worse.reasons
    assert worse.reasons[0].startswith("collab val_ndcg@10 fell ")
    assert "paired SE over" in worse.reasons[0]
    assert any(r.startswith("held-out probe ndcg@10 of served recommendations fell ")
               for r in worse.reasons), worse.reasons
    assert any(r.startswith("note: collab model changed ") and r.endswith(" -> popularity")
               for r in worse.reasons), worse.reasons
    assert artifacts.current_version(settings.artifacts).name == result.version != before
    line = [r.message for r in caplog.records if "-> rejected" in r.message]
    assert len(line) == 1 and "\n" not in line[0] and "{" not in line[0]
    run = (await store.job_runs("retrain"))[0]
    assert run.status == "rejected" and run.details["details"]["compared"]["probe"]["users"] == 300


def test_quick_build_is_quiet(quick_artifacts, data_dir, tmp_path):
    """`moviebot build` (the two TensorFlow stages, --quick) writes nothing to stdout but
    nothing at all; no Keras bars, ANSI codes or TensorFlow native log lines anywhere."""
    import shutil
    import subprocess
    import sys

    root = tmp_path / "artifacts"
    shutil.copytree(quick_artifacts, root, symlinks=True)
    env = {**os.environ, "MOVIEBOT_DATA_DIR": str(data_dir), "MOVIEBOT_ARTIFACTS": str(root)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "build", "--quick", "--only", "content",
         "--only", "collab"], env=env, capture_output=True, text=True, timeout=900,
        cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == ""
    for bad in ("E0000", "I0000", "node_def_util", "absl::InitializeLog", "Epoch 1/", "step - "):
        assert bad not in proc.stderr, bad
    assert "\x1b[1m" not in proc.stderr and "\x1b[32m" not in proc.stderr  # Keras' colours
    assert "stage collab: done" in proc.stderr and "built " in proc.stderr.splitlines()[-1]
