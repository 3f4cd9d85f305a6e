"""`moviebot catalog update` against the fake TMDB (real post-2018 rows, 127.0.0.1 only):
paging, 429 + Retry-After, timeouts, malformed records, crash and resume, and a running
Telegram bot (fake Bot API) serving the new films after the publish, without a restart."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import Engine, artifacts
from engine.content.layout import ENCODER_WEIGHTS, METADATA_MODEL, TFIDF_MODEL_FILES
from engine.queries import MovieQuery
from engine.reload import EngineHolder
from engine.tmdb import TMDBCatalogClient, TMDBUnavailable, movie_from_row
from jobs.catalog_update import (
    NEW_ID_BASE,
    PENDING_TITLES,
    STAGING,
    MalformedRecord,
    UpdateOptions,
    catalog_row,
    update_catalog,
)
from tests.fakes.harness import telegram_bot
from tests.fakes.tmdb_api import FakeTMDB, recent_movies

ROOT = Path(__file__).resolve().parents[1]
FAMOUS = ("Oppenheimer", "Barbie", "Top Gun: Maverick", "Everything Everywhere All at Once",
          "Parasite")
USER = 42


@pytest.fixture(scope="module")
def recent(data_dir) -> dict[int, dict]:
    """40 real films released since 2019: the famous ones and the most voted others."""
    movies = recent_movies(data_dir, "2019-01-01", limit=200)
    famous = [i for i, m in movies.items() if m["title"] in FAMOUS]
    assert len(famous) == len(FAMOUS)
    chosen = famous + [i for i in movies if i not in famous][:40 - len(famous)]
    return {i: movies[i] for i in chosen}


@pytest.fixture
async def fake(recent):
    server = await FakeTMDB(dict(recent)).start()
    yield server
    await server.stop()


@pytest.fixture
def root(tmp_path, quick_artifacts) -> Path:
    """A private artifacts root serving the session's quick build (hard links: the update
    must never write to a published file, which the inode checks below verify)."""
    src = artifacts.current_version(quick_artifacts)
    root = tmp_path / "artifacts"
    dst = root / src.name
    for path in src.rglob("*"):
        if path.is_file():
            (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dst / path.relative_to(src))
    artifacts.publish(root, dst)
    return root


def _client(fake, **kwargs) -> TMDBCatalogClient:
    return TMDBCatalogClient(fake.api_key, base_url=fake.base_url, requests_per_second=200,
                             **kwargs)


def _recording(client: TMDBCatalogClient) -> list[float]:
    """The client's Retry-After and backoff waits, recorded instead of slept (no timing
    in tests)."""
    waited: list[float] = []

    async def record(seconds):
        waited.append(seconds)

    client.sleep = record
    return waited


# -- the client ---------------------------------------------------------------------------
async def test_lists_and_discover_are_paged(fake, recent):
    client = _client(fake)
    try:
        first, second = await client.list_page("popular", 1), await client.list_page("popular", 2)
        last = await client.list_page("popular", 3)
        since = await client.discover_page("2022-01-01", 1)
    finally:
        await client.close()
    assert (len(first.ids), len(second.ids), len(last.ids)) == (20, 20, 0)
    assert first.total_pages == 2 and not set(first.ids) & set(second.ids)
    assert set(first.ids) | set(second.ids) == set(recent)
    expected = {i for i, m in recent.items() if m["release_date"] >= "2022-01-01"}
    assert set(since.ids) == expected and since.total_pages == 1


async def test_429_waits_for_retry_after_then_succeeds(fake, recent):
    fake.throttle_next, fake.retry_after = 2, "7"
    client = _client(fake)
    sleeps = _recording(client)
    tmdb_id = next(iter(recent))
    try:
        record = await client.movie_details(tmdb_id)
    finally:
        await client.close()
    assert record["id"] == tmdb_id and record["keywords"]["keywords"]
    assert sleeps == [7.0, 7.0] and client.throttled == 2
    assert fake.requests == [tmdb_id] * 3


async def test_timeouts_are_retried_then_reported(fake, recent):
    fake.delay = 2.0
    client = _client(fake, timeout=0.2, retries=2)
    backoff = _recording(client)
    try:
        with pytest.raises(TMDBUnavailable, match="after 3 tries"):
            await client.movie_details(next(iter(recent)))
    finally:
        await client.close()
    assert len(fake.requests) == 3 and len(backoff) == 2


def test_a_malformed_record_is_refused_with_the_reason():
    good = {"id": 5, "title": "A Film", "release_date": "2021-03-04", "genres": [{"name": "Drama"}]}
    assert catalog_row(good)["movie_id"] == NEW_ID_BASE + 5
    assert catalog_row(good)["genres"] == ["Drama"] and catalog_row(good)["year"] == 2021
    for broken, reason in (({**good, "id": "5"}, "bad id"), ({**good, "title": None}, "no title"),
                           ({**good, "release_date": "soon"}, "not a date"),
                           ({**good, "genres": "Drama"}, "expected a list"), ([], "not a JSON")):
        with pytest.raises(MalformedRecord, match=reason):
            catalog_row(broken)


# -- the job ------------------------------------------------------------------------------
def _texts(fake, chat_id=USER) -> list[str]:
    return [c.params.get("text") or c.params.get("caption") or ""
            for c in fake.sent(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]


async def _ask(telegram, text: str) -> str:
    before = len(_texts(telegram))
    telegram.push_text(text)
    # an update is confirmed only once handled, so every message of the answer is sent
    await telegram.wait_for(lambda f: len(_texts(f)) > before and f.all_confirmed(), 30)
    return "\n".join(_texts(telegram)[before:])


async def test_update_publishes_new_films_that_a_running_bot_serves(root, fake, recent, tmp_path,
                                                                     data_dir):
    served = artifacts.current_version(root)
    inode = (served / "catalog.parquet").stat().st_ino
    broken = next(i for i, m in recent.items() if m["title"] not in FAMOUS)
    fake.malformed = {broken}
    # a title a user asked for (part B's queue): already listed here, so nothing extra
    opp = next(i for i, m in recent.items() if m["title"] == "Oppenheimer")
    # asked for twice (two bot processes each append once, bot/ondemand.py): read once
    (root / PENDING_TITLES).write_text("".join(
        json.dumps({"title": "Oppenheimer", "tmdb_id": opp, "asked_at": at}) + "\n"
        for at in ("2026-11-26T10:00:00Z", "2026-11-26T10:05:00Z")))
    holder = EngineHolder(root, check_every=0.0)
    async with telegram_bot(None, tmp_path / "bot.db", holder=holder) as (telegram, _, _):
        before = await _ask(telegram, "/info Oppenheimer")
        assert "couldn't find" in before and "September 2018" in before

        result = await update_catalog(root, fake.api_key, fake.base_url,
                                      UpdateOptions(since="2019-01-01", pages=2, progress=False),
                                      client=_client(fake))
        assert result.status == "published", result.reasons
        details = result.details
        assert details["added"] == len(recent) - 1 and details["malformed"] == 1
        assert details["pending"] == 1 and details["listed"] == len(recent)
        # every film's details fetched once; the lists read to their last page (2 here)
        assert sorted(fake.requests) == sorted(recent)
        assert "/3/discover/movie?page=2" in fake.paths and "/3/movie/popular?page=2" in fake.paths

        for _ in range(600):                 # the holder loads the new version in a thread
            if holder().version == result.version:
                break
            await asyncio.sleep(0.05)
        assert holder.version == result.version
        after = await _ask(telegram, "/info Oppenheimer")
        assert "Oppenheimer (2023)" in after and "atomic bomb" in after
        similar = await _ask(telegram, "/similar Top Gun: Maverick")
        assert "Top Gun: Maverick (2022)" in similar and similar.count("(") >= 5
        info = await _ask(telegram, "/info Everything Everywhere All at Once")
        assert "Everything Everywhere All at Once (2022)" in info

    # the published version: the old one untouched, the new one whole
    assert (served / "catalog.parquet").stat().st_ino == inode
    engine = Engine.load(root)
    catalog = engine.catalog
    assert len(catalog) == len(Engine.load(served).catalog) + len(recent) - 1
    assert NEW_ID_BASE + broken not in catalog
    opp_id = NEW_ID_BASE + opp
    assert engine.resolve("Oppenheimer").movie_id == opp_id
    assert "updated from TMDB" in catalog.coverage_sentence()
    assert "September 2018" not in catalog.coverage_sentence()
    assert json.loads(catalog.df.loc[opp_id, "sources"])["overview"].startswith("tmdb_api@")
    for name in ("content", "collab", "crossmedia"):
        engine.recommender(name)             # loads, verifying every file's sha256
    assert opp_id in engine.recommender("collab").item_ids
    assert opp_id in engine.recommender("crossmedia").movie_ids
    manifest = artifacts.read_manifest(artifacts.current_version(root))
    assert manifest["updates"][-1]["added"] == len(recent) - 1
    assert not (root / STAGING).exists() and (root / PENDING_TITLES).read_text() == ""

    # the new version still folds in films asked for on demand, with the built films'
    # means; and the films the update added are embedded by that same fold-in
    content = engine.recommender("content")
    for name in (*TFIDF_MODEL_FILES, METADATA_MODEL, ENCODER_WEIGHTS):   # carried, not rewritten
        assert (content.dir / name).stat().st_ino == (served / "content" / name).stat().st_ino
    fold, built = content.fold_in(), Engine.load(served).recommender("content").fold_in()
    assert fold is not None and built is not None
    for name in ("tfidf", "bilstm", "metadata"):
        np.testing.assert_allclose(fold.means[name], built.means[name], atol=1e-6)
    pos = int(np.flatnonzero(content.movie_ids == opp_id)[0])
    row = catalog.df.loc[opp_id].to_dict()
    stored = {name: np.load(content.dir / f"{name}.npy")[pos] for name in ("tfidf", "bilstm", "metadata")}
    np.testing.assert_allclose(fold.tfidf(row), stored["tfidf"], atol=1e-6)
    np.testing.assert_allclose(fold.metadata(row), stored["metadata"], atol=1e-6)
    np.testing.assert_allclose(fold.fuse(stored), np.load(content.dir / "vectors.npy")[pos], atol=1e-6)
    newer = next(m for m in recent_movies(data_dir, "2019-01-01", limit=200).values() if m["id"] not in recent)
    asked = {**catalog_row(newer), "movie_id": 0}
    assert len(engine.recommend("content", MovieQuery(movie_from_row(asked), row=asked), k=5).results) == 5

    # idempotent: the same TMDB answers again add nothing and publish nothing
    again = await update_catalog(root, fake.api_key, fake.base_url,
                                 UpdateOptions(since="2019-01-01", pages=2, progress=False),
                                 client=_client(fake))
    assert again.status == "unchanged" and again.version == result.version

    # TMDB's numbers move: the film is refreshed in place (same id), with its provenance
    fake.movies[opp] = {**fake.movies[opp], "vote_count": 99_999, "vote_average": 8.9}
    refreshed = await update_catalog(root, fake.api_key, fake.base_url,
                                     UpdateOptions(since="2019-01-01", pages=2, progress=False),
                                     client=_client(fake))
    assert refreshed.status == "published" and refreshed.details["refreshed"] == 1
    assert refreshed.details["added"] == 0
    row = Engine.load(root).catalog.df.loc[opp_id]
    assert (row["vote_count"], row["vote_average"]) == (99_999, 8.9)
    assert json.loads(row["sources"])["vote_count"].startswith("tmdb_api@")


async def test_a_crash_publishes_nothing_and_the_rerun_continues(root, fake, recent, monkeypatch):
    served = artifacts.current_version(root)
    options = UpdateOptions(lists=("popular",), pages=5, progress=False, concurrency=1)

    # 1. TMDB stops answering after 10 films: the job fails, the 10 are kept
    fake.hang_details_after = 10
    first = await update_catalog(root, fake.api_key, fake.base_url, options,
                                 client=_client(fake, timeout=0.3, retries=1))
    assert first.status == "failed" and "run the update again" in first.reasons[0]
    assert artifacts.current_version(root) == served
    journal = (root / STAGING / "details.jsonl").read_text().splitlines()
    assert len(journal) == 10

    # 2. the process dies while writing the new version: nothing is published
    fake.hang_details_after = None
    fake.requests.clear()

    def crash(*args, **kwargs):
        raise RuntimeError("killed while writing the version")

    monkeypatch.setattr("engine.crossmedia.extend.extend", crash)
    with pytest.raises(RuntimeError):
        await update_catalog(root, fake.api_key, fake.base_url, options, client=_client(fake))
    assert artifacts.current_version(root) == served
    assert len(fake.requests) == len(recent) - 10          # only the films not yet fetched
    half = [p for p in root.iterdir() if p.name.startswith("v") and p != served]
    assert len(half) == 1 and not (half[0] / artifacts.MANIFEST).exists()

    # 3. the rerun fetches nothing, clears the half-written version and publishes
    monkeypatch.undo()
    fake.requests.clear()
    third = await update_catalog(root, fake.api_key, fake.base_url, options, client=_client(fake))
    assert third.status == "published" and third.details["fetched"] == 0
    assert third.details["resumed"] == len(recent) and third.details["added"] == len(recent)
    assert fake.requests == [] and not half[0].exists()
    assert artifacts.current_version(root).name == third.version


def test_the_saved_encoder_reproduces_the_built_films(quick_artifacts):
    """The update embeds a new film's text with the build's saved encoder (TF-IDF and
    metadata go through foldin.FoldIn, checked in test_ondemand.py): run on built films,
    the inference gives back the built text block and predicted audience."""
    from engine.content.extend import fit_catalog
    from engine.content.layout import BLOCK_FILES
    from engine.content.text import movie_text
    from engine.content.train_encoder import encode

    version = artifacts.current_version(quick_artifacts)
    content = version / "content"
    params = artifacts.read_manifest(version)["components"]["content"]["params"]
    fit, _ = fit_catalog(version)
    built = np.load(content / BLOCK_FILES["bilstm"])[:60]

    def cosines(a, b):
        keep = (np.linalg.norm(a, axis=1) > 0) & (np.linalg.norm(b, axis=1) > 0)
        a, b = a[keep], b[keep]
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    texts = [movie_text(r) for _, r in fit.iloc[:60].iterrows()]
    bilstm, audience = encode(texts, content / "vocab.json", content / ENCODER_WEIGHTS,
                              params["encoder"])
    assert cosines(bilstm, built).min() > 0.99
    if audience is not None:
        assert cosines(audience, np.load(content / "audience_predicted.npy")[:60]).min() > 0.99


async def test_a_version_without_the_saved_transforms_is_refused_before_any_fetch(root, fake):
    """A version built before the content transforms were saved: "rebuild content first",
    no TMDB call, nothing published, the pending titles kept."""
    served = artifacts.current_version(root)
    (served / "content" / "tfidf_model.json").unlink()   # this root's own link only
    (root / PENDING_TITLES).write_text(json.dumps({"title": "Barbie", "tmdb_id": 346698}) + "\n")
    result = await update_catalog(root, fake.api_key, fake.base_url,
                                  UpdateOptions(since="2019-01-01", pages=2, progress=False),
                                  client=_client(fake))
    assert result.status == "failed"
    assert "rebuild content first" in result.reasons[0] and "moviebot build --only content" in result.reasons[0]
    assert fake.paths == [] and artifacts.current_version(root) == served
    assert artifacts.list_versions(root) == [served]
    assert "Barbie" in (root / PENDING_TITLES).read_text()


def test_without_a_key_the_command_says_what_is_needed(root):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MOVIEBOT_ARTIFACTS": str(root),
           "MOVIEBOT_DATA_DIR": os.environ.get("MOVIEBOT_DATA_DIR", "")}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "catalog", "update", "--since",
                          "2019-01-01"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert "TMDB_API_KEY" in out.stderr and "Traceback" not in out.stderr
    assert not (root / STAGING).exists()
    assert len(pd.read_parquet(artifacts.current_version(root) / "catalog.parquet")) > 9000


async def test_the_scheduled_job_is_skipped_without_a_key(root):
    from jobs.scheduler import Schedule, run_job

    class NoKey:
        artifacts, tmdb_api_key, tmdb_api_base_url = root, "", ""

    result = await run_job("catalog-update", NoKey(), None, Schedule())
    assert result.status == "skipped" and "TMDB_API_KEY" in result.reasons[0]
    assert artifacts.current_version(root).name == artifacts.list_versions(root)[-1].name


def test_pending_titles_asked_during_an_update_are_kept(tmp_path):
    from jobs.catalog_update import clear_pending, read_pending

    path = tmp_path / PENDING_TITLES
    # the bots append one line per process and film: the same film may come several times
    path.write_text('{"title": "Oppenheimer", "tmdb_id": 872585, "asked_at": "t1"}\nnot json\n'
                    '{"title": "Barbie", "tmdb_id": null, "asked_at": "t2"}\n'
                    '{"title": "oppenheimer", "tmdb_id": 872585, "asked_at": "t4"}\n'
                    '{"title": " BARBIE", "tmdb_id": null, "asked_at": "t5"}\n')
    seen, lines = read_pending(tmp_path)
    assert [p["title"] for p in seen] == ["Oppenheimer", "Barbie"] and lines == 5
    with path.open("a") as fh:        # a bot queues another title meanwhile
        fh.write('{"title": "Dune: Part Two", "tmdb_id": null, "asked_at": "t3"}\n')
    clear_pending(tmp_path, lines)
    assert [p["title"] for p in read_pending(tmp_path)[0]] == ["Dune: Part Two"]


def test_a_full_rebuild_keeps_the_films_updates_added(tmp_path, data_dir):
    from engine.build_context import BuildContext
    from engine.datasets.catalog_build import build_stage

    barbie = {"id": 346698, "title": "Barbie", "release_date": "2023-07-19", "imdb_id": "tt1517268",
              "genres": [{"name": "Comedy"}], "overview": "Barbie and Ken ...", "vote_count": 8000}
    # a film the raw data already has (Toy Story, TMDB 862): the built row wins
    toy_story = {"id": 862, "title": "Toy Story (TMDB copy)", "release_date": "1995-10-30"}
    previous = tmp_path / "previous"
    previous.mkdir()
    pd.DataFrame([catalog_row(barbie), catalog_row(toy_story)]).drop(
        columns="release_date").to_parquet(previous / "catalog.parquet", index=False)
    (previous / "catalog.json").write_text(json.dumps(
        {"first_year": 1902, "last_year": 2023, "last_date": "2023-07-19", "updated": "2026-11-26"}))
    out = tmp_path / "out"
    out.mkdir()
    build_stage(BuildContext(data_dir=data_dir, out_dir=out, previous_dir=previous,
                             progress=False))
    from engine.catalog import Catalog

    catalog = Catalog.load(out)
    assert NEW_ID_BASE + 346698 in catalog and NEW_ID_BASE + 862 not in catalog
    assert catalog.movie(NEW_ID_BASE + 346698).title == "Barbie"
    assert catalog.movie(1).title == "Toy Story"
    assert "to July 2023 (updated from TMDB on 26 November 2026)" in catalog.coverage_sentence()


def test_a_full_tmdb_record_fills_every_catalog_field():
    record = {
        "id": 693134, "title": "Dune: Part Two", "release_date": "2024-02-27",
        "imdb_id": "tt15239678", "overview": "Paul Atreides unites with Chani.", "tagline": "Long live the fighters.",
        "runtime": 167, "original_language": "en", "poster_path": "/dune2.jpg",
        "popularity": 300.5, "vote_average": 8.2, "vote_count": 5000, "budget": 190000000, "revenue": 0,
        "genres": [{"id": 878, "name": "Science Fiction"}, {"id": 12, "name": "Adventure"},
                   {"id": 10770, "name": "TV Movie"}],
        "production_countries": [{"name": "United States of America"}],
        "belongs_to_collection": {"id": 726871, "name": "Dune Collection"},
        "keywords": {"keywords": [{"name": "desert"}, {"name": "aftercreditsstinger"}, {"name": "desert"}]},
        "credits": {"cast": [{"name": f"Actor {i}", "order": 6 - i} for i in range(7)],
                    "crew": [{"name": "Denis Villeneuve", "job": "Director"},
                             {"name": "Jon Spaihts", "job": "Screenplay"}]},
        "videos": {"results": [{"site": "YouTube", "key": "teaser", "type": "Teaser", "official": True},
                               {"site": "YouTube", "key": "trailer", "type": "Trailer", "official": True}]},
    }
    row = catalog_row(record, today="2026-11-26")
    assert row["movie_id"] == NEW_ID_BASE + 693134 and row["ml_title"] == "Dune: Part Two (2024)"
    assert row["genres"] == ["Sci-Fi", "Adventure"]               # MovieLens names
    assert row["tmdb_genres"] == ["Science Fiction", "Adventure"]  # "TV Movie" is a medium
    assert row["cast"] == ["Actor 6", "Actor 5", "Actor 4", "Actor 3", "Actor 2"]  # top billed
    assert row["directors"] == ["Denis Villeneuve"] and row["collection"] == "Dune Collection"
    assert row["keywords"] == ["desert"] and row["youtube_id"] == "trailer"
    assert row["revenue"] != row["revenue"]                        # 0 means unknown: NaN
    assert json.loads(row["sources"])["cast"] == "tmdb_api@2026-11-26"
