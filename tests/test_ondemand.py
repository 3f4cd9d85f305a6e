"""Newer films on demand (issue 18, item 2): a title past the catalog, looked up on TMDB.

Against the fake TMDB (tests/fakes/tmdb_api.py) serving the real rows of
TMDB_movie_dataset_v11.csv, which has films released up to 2023 (Oppenheimer among them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.commands import CommandLayer, User
from bot.ondemand import PENDING
from engine.content.layout import BLOCK_FILES
from engine.queries import MovieQuery
from engine.tmdb import TMDBClient, catalog_row
from tests.fakes.tmdb_api import FakeTMDB, movies_from_dataset

ADA = User("console", "ada")
OPPENHEIMER = 872585
# the shared file's last record is cut off; this many rows reach past Oppenheimer (2023)
ROWS = 2600


@pytest.fixture(scope="module")
def tmdb_movies(data_dir):
    return movies_from_dataset(data_dir, limit=ROWS)


@pytest.fixture
async def fake(tmdb_movies):
    server = await FakeTMDB(tmdb_movies).start()
    yield server
    await server.stop()


@pytest.fixture
async def layer(engine, fake, tmp_path):
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=2.0)
    layer = CommandLayer(lambda: engine, tmdb=client)
    layer.ondemand.root = tmp_path        # the pending list goes here, not into the session build
    yield layer
    await client.close()


def pending(tmp_path) -> list[dict]:
    path = tmp_path / PENDING
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- the content vector, computed on the fly ------------------------------------------------
def test_fold_in_reproduces_the_built_content_vectors(engine):
    """The saved transforms give exactly the build's TF-IDF and metadata blocks, and the
    fused vector the index serves, for catalog films (so a new film lands in the same space)."""
    content = engine.recommender("content")
    fold_in = content.fold_in()
    assert fold_in is not None
    blocks = {name: np.load(content.dir / f) for name, f in BLOCK_FILES.items()}
    served = np.load(content.dir / "vectors.npy")
    df = engine.catalog.df.reset_index(drop=True)
    rows = [0, 1234, 5000, len(df) - 1]
    for pos in rows:
        row = df.iloc[pos].to_dict()
        assert np.allclose(fold_in.tfidf(row), blocks["tfidf"][pos], atol=1e-5)
        assert np.allclose(fold_in.metadata(row), blocks["metadata"][pos], atol=1e-6)
        mine = fold_in.blocks(row)
        mine["bilstm"] = blocks["bilstm"][pos]        # the one block serving cannot compute
        assert np.allclose(fold_in.fuse(mine), served[pos], atol=1e-4)


def test_a_tmdb_film_gets_similar_catalog_films(engine, tmdb_movies):
    row = catalog_row(tmdb_movies[OPPENHEIMER])
    assert row["year"] == 2023 and "Drama" in row["genres"] and row["keywords"]
    from engine.tmdb import movie_from_row

    movie = movie_from_row(row)
    recs = engine.recommend("content", MovieQuery(movie, row=row), k=10)
    assert len(recs.results) == 10
    assert all(r.movie.movie_id in engine.catalog for r in recs.results)
    assert all(r.reason for r in recs.results)
    # same genre as the query for most of the list: the vector is the film's, not noise
    assert sum("Drama" in r.movie.genres for r in recs.results) >= 7


def test_folding_in_imports_neither_tensorflow_nor_sklearn(quick_artifacts, tmdb_movies, tmp_path):
    import subprocess
    import sys

    (tmp_path / "row.json").write_text(json.dumps(catalog_row(tmdb_movies[OPPENHEIMER])))
    code = f"""
import json, sys
from engine import Engine
from engine.queries import MovieQuery
from engine.tmdb import movie_from_row
row = json.load(open({str(tmp_path / "row.json")!r}))
recs = Engine.load({str(quick_artifacts)!r}).recommend("content", MovieQuery(movie_from_row(row), row=row), k=5)
assert len(recs.results) == 5
print(sorted(m for m in ("tensorflow", "sklearn", "keras") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- /info and /similar ---------------------------------------------------------------------
async def test_info_oppenheimer_with_a_key_is_a_tmdb_card_and_queued(layer, fake, tmp_path):
    reply = await layer.handle("/info Oppenheimer", ADA)
    assert not reply.is_error, reply.text
    card = reply.cards[0]
    assert card.title == "Oppenheimer (2023)"
    assert "atomic bomb" in card.body and "TMDB 8.3/10" in card.subtitle and "181 min" in card.subtitle
    assert "September 2018" in card.body and "queued" in card.body
    assert card.movie_id is None                       # no catalog id: no like/watchlist buttons
    assert {b.label for b in card.buttons} <= {"Trailer", "TMDB page"}
    assert card.image_url.endswith(fake.movies[OPPENHEIMER]["poster_path"])
    queued = pending(tmp_path)
    assert [(q["title"], q["tmdb_id"]) for q in queued] == [("Oppenheimer", OPPENHEIMER)]
    assert queued[0]["asked_at"].startswith("20")
    # asked again: answered again, queued once
    await layer.handle("Oppenheimer", ADA)
    assert len(pending(tmp_path)) == 1


async def test_info_oppenheimer_without_a_key_states_the_date_range(engine):
    reply = await CommandLayer(lambda: engine).handle("/info Oppenheimer", ADA)
    assert reply.is_error and not reply.cards
    assert "couldn't find" in reply.text and "September 2018" in reply.text
    assert "TMDB_API_KEY" in reply.text


async def test_a_title_tmdb_does_not_know_either_says_so(layer, tmp_path):
    reply = await layer.handle("/info Xqzzyv Blorptastic", ADA)
    assert reply.is_error and "TMDB has no film by that name" in reply.text
    assert "September 2018" in reply.text and not pending(tmp_path)


async def test_tmdb_finding_a_catalog_film_answers_from_the_catalog(layer, engine, fake, tmp_path):
    # TMDB's title for a film the catalog spells another way: the catalog's card, not queued
    known = next(m for m in fake.movies.values() if m["id"] == 27205)     # Inception
    found = await layer.ondemand.by_tmdb_id(engine, known["id"])
    assert found.movie_id in engine.catalog and found.title == "Inception"
    assert not pending(tmp_path)


async def test_similar_for_an_on_demand_film_and_its_next_page(layer, engine, tmp_path):
    reply = await layer.handle("/similar Oppenheimer", ADA)
    assert not reply.is_error, reply.text
    assert "Oppenheimer (2023)" in reply.text and "new to me" in reply.text
    assert len(reply.cards) == layer.page_size
    assert all(c.movie_id in engine.catalog and c.reason for c in reply.cards)
    assert pending(tmp_path)[0]["tmdb_id"] == OPPENHEIMER
    more = next(b for b in reply.buttons if b.label.startswith("More"))
    page2 = await layer.press(more.action.encode(), ADA)      # the wire form, decoded again
    assert not page2.is_error and "(page 2)" in page2.text
    first = {c.movie_id for c in reply.cards}
    assert page2.cards and not first & {c.movie_id for c in page2.cards}


async def test_tmdb_down_keeps_the_catalog_answer(engine, fake, tmp_path):
    fake.delay = 3.0
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=0.3)
    layer = CommandLayer(lambda: engine, tmdb=client, tmdb_timeout=0.5)
    layer.ondemand.root = tmp_path
    try:
        reply = await layer.handle("/info Oppenheimer", ADA)
    finally:
        await client.close()
    assert reply.is_error and "September 2018" in reply.text and "didn't answer" in reply.text
    assert not pending(tmp_path)


async def test_pending_lines_are_whole_when_written_concurrently(tmp_path):
    import asyncio

    from bot.ondemand import append_line

    lines = [json.dumps({"title": f"Film {i}", "tmdb_id": i, "asked_at": "2026-11-26"}) + "\n"
             for i in range(200)]
    await asyncio.gather(*(asyncio.to_thread(append_line, tmp_path / PENDING, line)
                           for line in lines))
    read = pending(tmp_path)
    assert sorted(r["tmdb_id"] for r in read) == list(range(200))


async def test_an_obscure_old_namesake_gives_way_to_the_newer_tmdb_film(layer, engine, tmp_path):
    # "parasite": the catalog's only one is a barely rated 1982 film; TMDB has the 2019 one
    reply = await layer.handle("/info parasite", ADA)
    assert reply.cards[0].title == "Parasite (2019)" and reply.cards[0].movie_id is None
    assert "Parasite (1982)" in reply.text and "TMDB has this newer one" in reply.text
    old = engine.resolve("parasite")
    assert [b.action.encode() for b in reply.buttons] == [f"info:{old.movie_id}"]
    assert [q["title"] for q in pending(tmp_path)] == ["Parasite"]
    # without a key: the catalog's film, with the range stated
    plain = await CommandLayer(lambda: engine).handle("/info parasite", ADA)
    assert plain.cards[0].title == "Parasite (1982)" and "September 2018" in plain.text


def test_fold_in_on_a_version_without_the_hybrid_or_the_files(engine, tmdb_movies, tmp_path):
    """An older version: without the hybrid the two-stage content rerank serves the film;
    without the saved transforms /similar says the film is not indexed yet."""
    import shutil

    from engine.content.serving import ContentIndex, NotIndexed
    from engine.tmdb import movie_from_row

    row = catalog_row(tmdb_movies[OPPENHEIMER])
    movie = movie_from_row(row)
    content_dir = engine.recommender("content").dir
    plain = ContentIndex.load(content_dir, engine.catalog)
    plain.scorer = None                                  # as built before issue 16
    recs = plain.recommend(MovieQuery(movie, row=row), k=8)
    assert len(recs.results) == 8 and len({r.movie.movie_id for r in recs.results}) == 8
    old = tmp_path / "content"
    shutil.copytree(content_dir, old)
    (old / "tfidf_model.json").unlink()
    with pytest.raises(NotIndexed) as err:
        ContentIndex.load(old, engine.catalog).recommend(MovieQuery(movie, row=row), k=8)
    assert "Oppenheimer (2023)" in str(err.value) and "next rebuild" in str(err.value)
