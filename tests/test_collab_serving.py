"""Collaborative engine end to end: a --quick build of the real data, then the serving API.

One module-scoped build (catalog table + collab stage only) keeps this file fast. The collab
stage reads the content stage's fused vectors for films nobody rated; here the content
stage's TF-IDF block stands in for them (no encoder training).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.errors import MovieBotError
from engine.queries import HistoryQuery
from engine.results import Filters

SHAWSHANK, STAR_WARS, EMPIRE, MATRIX, SILENCE, TOY_STORY = 318, 260, 1196, 2571, 593, 1
FANS = [(SHAWSHANK, 5), (STAR_WARS, 4.5), (EMPIRE, "like"), (MATRIX, 5)]


def content_stand_in(version_dir, catalog) -> None:
    """``<version>/content/{ids,vectors}.npy`` from the content stage's TF-IDF block alone."""
    from engine.content.tfidf import TfidfConfig, tfidf_vectors

    out = version_dir / "content"
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "ids.npy", catalog["movie_id"].to_numpy(np.int64))
    np.save(out / "vectors.npy", tfidf_vectors(catalog, TfidfConfig.quick())[0])


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory, data_dir, catalog_frame):
    from engine import artifacts
    from engine.build_context import BuildContext
    from engine.collab.build import build_stage

    root = tmp_path_factory.mktemp("collab_artifacts")
    out = artifacts.new_version_dir(root)
    catalog_frame.to_parquet(out / "catalog.parquet", index=False)
    content_stand_in(out, catalog_frame)
    ctx = BuildContext(data_dir=data_dir, out_dir=out, quick=True, progress=False)
    ctx.tables["catalog"] = catalog_frame
    result = build_stage(ctx)
    artifacts.write_manifest(out, {"version": out.name, "components": {
        "catalog": {"files": ["catalog.parquet"]}, "collab": result}})
    artifacts.publish(root, out)
    return out


@pytest.fixture(scope="module")
def engine(version_dir):
    from engine import Engine

    return Engine.load(version_dir)


@pytest.fixture(scope="module")
def collab(engine):
    return engine.recommender("collab")


def test_build_writes_only_its_directory_and_records_the_choice(version_dir):
    manifest = json.loads((version_dir / "manifest.json").read_text())["components"]["collab"]
    assert all(f.startswith("collab/") for f in manifest["files"])
    meta = json.loads((version_dir / "collab" / "collab.json").read_text())
    val = meta["validation"]
    assert set(val) == {"popularity", "als", "ease", "autoencoder"}
    assert meta["default"] == max(val, key=lambda k: val[k]["ndcg@10"])
    assert val[meta["default"]]["ndcg@10"] > val["popularity"]["ndcg@10"]
    assert meta["content_only_items"] > 0 and len(meta["onboarding"]) >= 20


def test_recommend_excludes_seen_and_disliked_and_explains(engine):
    history = [*FANS, (SILENCE, "dislike")]
    recs = engine.recommend("collab", HistoryQuery.of(history), k=10)
    ids = [r.movie.movie_id for r in recs.results]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert not set(ids) & {m for m, _ in history}
    liked_labels = {engine.movie(m).label for m, _ in FANS}
    for rec in recs.results:
        assert rec.reason.startswith("because you liked ")
        assert rec.reason.removeprefix("because you liked ") in liked_labels
    scores = [r.score for r in recs.results]
    assert recs.query.cold_start is False and scores[0] >= scores[-1]


def test_results_are_diversified(collab):
    from engine.collab.diversity import title_stem

    recs = collab.recommend(HistoryQuery.of([(STAR_WARS, 5), (EMPIRE, 5), (1210, 5), (MATRIX, 4)]), k=10)
    stems = [title_stem(r.movie.title) for r in recs.results]
    assert len(stems) == len(set(stems)), stems
    assert title_stem("Star Wars: Episode VI - Return of the Jedi") == "star wars"
    assert title_stem("Toy Story 2") == title_stem("Toy Story") == "toy story"


def test_unknown_ids_are_reported_not_fatal(collab):
    recs = collab.recommend(HistoryQuery.of([*FANS, (999_999_999, 5)]), k=5)
    assert recs.query.unknown_ids == [999_999_999] and len(recs.results) == 5


def test_a_new_users_thumbs_up_changes_the_next_answer(collab):
    before = [r.movie.movie_id for r in collab.recommend(HistoryQuery.of(FANS), k=10).results]
    after = [r.movie.movie_id for r in collab.recommend(HistoryQuery.of([*FANS, (TOY_STORY, "like")]), k=10).results]
    assert before != after


def test_cold_start_gives_onboarding_and_popular_in_genre(collab, engine):
    empty = collab.recommend(HistoryQuery.of([(999_999_999, 5)]), k=8)
    assert empty.query.cold_start and len(empty.results) == 8
    assert len(empty.query.onboarding) == 8
    one = collab.recommend(HistoryQuery.of([(TOY_STORY, "like")]), k=8)
    toy_genres = set(engine.movie(TOY_STORY).genres)
    assert one.query.cold_start and TOY_STORY not in [r.movie.movie_id for r in one.results]
    assert all(set(r.movie.genres) & toy_genres for r in one.results)
    onboarding = collab.onboarding(12).results
    assert len(onboarding) == 12 and len({r.movie.genres[0] for r in onboarding}) >= 5


def test_filters_are_honoured(collab):
    recs = collab.recommend(HistoryQuery.of(FANS), k=5, filters=Filters(genres=["Comedy"], year_min=1990))
    assert len(recs.results) == 5
    assert all("Comedy" in r.movie.genres and r.movie.year >= 1990 for r in recs.results)


def test_unrated_films_have_content_vectors(collab, engine):
    catalog = engine.catalog.df
    unrated = catalog[catalog["rating_count"] == 0]
    hits = [m for m in unrated["movie_id"] if collab._columns([m])[0] >= 0]
    assert hits, "no unrated film reachable"
    col = collab._columns([hits[0]])[0]
    neighbours = collab.index.top(int(col), 6, exact=False)[0][1:].tolist()
    genres = set(engine.movie(hits[0]).genres)
    shared = [set(engine.movie(int(collab.item_ids[n])).genres) & genres for n in neighbours]
    assert sum(bool(s) for s in shared) >= 3


def test_bad_input_is_friendly(collab):
    with pytest.raises(MovieBotError, match="between 1 and 200"):
        collab.recommend(HistoryQuery.of(FANS), k=0)
    with pytest.raises(MovieBotError, match="not a rating"):
        collab.recommend(HistoryQuery.of([(SHAWSHANK, "meh")]), k=5)
    only_dislikes = collab.recommend(HistoryQuery.of([(SHAWSHANK, 1), (STAR_WARS, "dislike"), (MATRIX, 0.5)]), k=5)
    assert only_dislikes.query.cold_start and len(only_dislikes.results) == 5
    assert not {SHAWSHANK, STAR_WARS, MATRIX} & {r.movie.movie_id for r in only_dislikes.results}


def test_recommend_cli_json_and_errors(version_dir, capsys):
    from bot.cli import main

    root = str(version_dir.parent)
    assert main(["recommend", "--artifacts", root, "--history", "318:5,260:4.5,1196:like",
                 "-k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 4 and out["query"]["history"] == 3
    assert main(["recommend", "--artifacts", root, "--history", "318:five"]) == 1
    assert "not a rating" in capsys.readouterr().err


def test_serving_never_imports_tensorflow(version_dir):
    code = ("import sys; from engine import Engine; e = Engine.load(sys.argv[1]); "
            "from engine.queries import HistoryQuery; "
            "e.recommend('collab', HistoryQuery(((318, 5), (260, 4), (1196, 'like'))), k=3); "
            "assert 'tensorflow' not in sys.modules, 'TF imported'")
    subprocess.run([sys.executable, "-c", code, str(version_dir)], check=True, timeout=120)


def test_folded_in_user_matches_exact_scores(collab):
    idx = collab._columns([m for m, _ in FANS])
    user = collab.model.user_vector(idx, np.ones(len(idx), np.float32))
    exact = np.asarray(collab.model.item_vectors()) @ user
    top_exact = [int(i) for i in np.argsort(-exact) if i not in set(idx)][:10]
    annoy = [i for i in collab.index.query(user, 30) if i not in set(idx)][:10]
    assert len(set(top_exact) & set(annoy)) >= 8   # search_k is calibrated at build time


def test_build_honours_ratings_path_and_chat_feedback(tmp_path, data_dir, catalog_frame):
    """`moviebot build --ratings FILE` trains on that file; chat thumbs join the matrix."""
    import pandas as pd

    from engine.build_context import BuildContext
    from engine.collab.build import build_stage

    src = pd.read_csv(data_dir / "movielens/ml-latest-small/ratings.csv")
    subset = src[src["userId"] <= 200]
    path = tmp_path / "ratings.csv"
    subset.to_csv(path, index=False)                 # derived data: only in tmp, never committed
    feedback = pd.DataFrame({"user_key": ["tg:42"] * 3, "movie_id": [SHAWSHANK, STAR_WARS, SILENCE],
                             "signal": ["like", "rating", "dislike"], "value": [None, 4.0, None]})
    ctx = BuildContext(data_dir=data_dir, out_dir=tmp_path / "v", quick=True, progress=False,
                       ratings_path=path, feedback=feedback)
    ctx.tables["catalog"] = catalog_frame
    content_stand_in(tmp_path / "v", catalog_frame)
    result = build_stage(ctx)
    meta = json.loads((tmp_path / "v" / "collab" / "collab.json").read_text())
    assert meta["ratings"] == len(subset) + 3 and meta["users"] == 201
    assert result["params"]["ratings_path"] == str(path)
