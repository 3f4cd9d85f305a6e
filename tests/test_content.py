"""The content engine end to end on the real data, from one session-wide --quick build."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.errors import InvalidInput, MovieBotError, UnknownTitle
from engine.queries import MovieQuery
from engine.results import Filters


@pytest.fixture(scope="module")
def content_dir(engine):
    return engine.version_dir / "content"


def test_build_writes_vectors_tokenizer_labels_and_metrics(engine, content_dir):
    entry = engine.manifest["components"]["content"]
    for rel in entry["files"]:
        assert (engine.version_dir / rel).is_file(), rel
    n = len(engine.catalog)
    bilstm = np.load(content_dir / "bilstm.npy")
    assert bilstm.shape == (n, entry["params"]["encoder"]["dense_units"])
    assert np.load(content_dir / "ids.npy").tolist() == engine.catalog.df["movie_id"].tolist()
    vocab = json.loads((content_dir / "vocab.json").read_text())
    assert vocab["words"][:2] == ["<pad>", "<oov>"] and vocab["max_len"] > 0
    labels = json.loads((content_dir / "labels.json").read_text())["classes"]
    assert "Comedy" in labels and "Drama" in labels
    metrics = entry["metrics"]
    assert 0 <= metrics["genre_f1_micro"] <= 1 and 0 <= metrics["genre_f1_macro"] <= 1
    table = metrics["eval_test_users"]
    assert metrics["test_ndcg@10"] == pytest.approx(table["fused (served)"]["ndcg@10"], abs=1e-4)
    assert {"tfidf only", "bilstm only", "metadata only", "fused (served)",
            "genre-Jaccard baseline", "popularity baseline"} <= set(table)
    weights = entry["params"]["fusion"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)


def test_similar_returns_k_distinct_movies_never_the_query(engine):
    recs = engine.recommend("content", MovieQuery(engine.resolve("Inception")), k=10)
    assert recs.query.movie.title == "Inception"
    ids = [r.movie.movie_id for r in recs.results]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert recs.query.movie_id not in ids
    assert all(r.reason for r in recs.results)   # order: the hybrid's rules (test_similar_hybrid.py)


@pytest.fixture
def annoy_path(engine):
    """The two-stage Annoy path versions built before the hybrid serve (scorer off)."""
    content = engine.recommender("content")
    scorer, content.scorer = content.scorer, None
    yield content
    content.scorer = scorer


def test_every_result_is_a_content_neighbour_and_popularity_only_reorders(engine, annoy_path):
    content = annoy_path
    n = len(content.movie_ids)
    items = np.array([content.retriever.annoy.get_item_vector(i) for i in range(n)],
                     dtype=np.float32)
    recs = engine.recommend("content", MovieQuery(engine.resolve("Inception")), k=10)
    row = content.row_of[recs.query.movie_id]
    cos = items @ items[row]
    cos[row] = -np.inf
    pool = content.n_candidates if content.lam else 10
    nearest = set(content.movie_ids[np.argsort(-cos)[:pool]].tolist())
    listed = [r.movie.movie_id for r in recs.results]
    assert sum(m in nearest for m in listed) >= 9  # Annoy is approximate; the rerank is not
    config = content.config
    assert config["selection"]["rule"].startswith("best validation NDCG@10")
    # the joint grid includes every pure-content configuration, so the choice is never worse
    assert config["selection"]["ndcg@10"] >= config["selection"]["content_only_best_ndcg@10"]


def test_similar_honours_filters(engine):
    filters = Filters(year_min=1990, year_max=1999, genres=["comedy"], min_votes=50)
    recs = engine.recommend("content", MovieQuery(engine.resolve("Toy Story")), k=8, filters=filters)
    assert recs.results, "plenty of 1990s comedies exist"
    for rec in recs.results:
        m = rec.movie
        assert 1990 <= m.year <= 1999 and "Comedy" in m.genres
        assert max(m.vote_count or 0, m.rating_count) >= 50
    assert recs.query.to_json()["filters"]["year_min"] == 1990


def test_filtered_similar_is_the_exact_two_stage_list_over_allowed_movies(engine, annoy_path):
    from engine.content.index import rerank

    content = annoy_path
    assert content.retriever.vectors is not None  # written by the build, memory-mapped
    filters = Filters(year_max=1960, genres=["drama"], min_votes=10)
    query = engine.catalog.resolve("Casablanca")
    recs = content.recommend(MovieQuery(query), k=10, filters=filters)
    row = content.row_of[query.movie_id]
    allowed = content._columns.mask(filters)
    allowed[row] = False
    vectors = np.asarray(content.retriever.vectors)
    rows = np.flatnonzero(allowed)
    cos = vectors[rows] @ vectors[row]
    cand = rows[np.argsort(-cos, kind="stable")[:content.n_candidates]]
    order, _ = rerank(vectors[cand] @ vectors[row], np.asarray(content.prior)[cand], content.lam)
    expected = [int(content.movie_ids[i]) for i in cand[order][:10]]
    assert [r.movie.movie_id for r in recs.results] == expected
    # the same list through Annoy's over-fetch (as for a catalog too big for exact search)
    content.retriever.exact_filtered_max = 0
    try:
        annoy = content.recommend(MovieQuery(query), k=10, filters=filters).results
    finally:
        content.retriever.exact_filtered_max = 50_000
    assert annoy and all(filters.accepts(rec.movie) for rec in annoy)


def test_impossible_filter_gives_an_empty_list_not_an_error(engine):
    recs = engine.recommend("content", MovieQuery(engine.resolve("Heat")), k=5, filters=Filters(year_min=2030))
    assert recs.results == []


@pytest.mark.parametrize("filters", [
    Filters(year_min=1990, year_max=1999), Filters(genres=["Film-Noir", "western"]),
    Filters(min_votes=1000), Filters(year_max=1950, genres=["Drama"], min_votes=10)])
def test_fast_filter_mask_agrees_with_filters_accepts(engine, filters):
    content = engine.recommender("content")
    mask = content._columns.mask(filters)
    expected = [filters.accepts(engine.movie(int(m))) for m in content.movie_ids]
    assert mask.tolist() == expected


def test_movie_without_overview_still_gets_neighbours(engine):
    df = engine.catalog.df
    no_text = df[(df["overview"] == "") & (df["genres"].map(len) > 0)]
    assert len(no_text) > 100  # the long tail has no overview in any source
    movie = engine.movie(int(no_text["movie_id"].iloc[0]))
    recs = engine.recommend("content", MovieQuery(engine.resolve(movie)), k=5)
    assert len(recs.results) == 5
    assert movie.movie_id not in [r.movie.movie_id for r in recs.results]


def test_bad_requests_get_friendly_errors(engine):
    with pytest.raises(InvalidInput, match="between 1 and 200"):
        engine.recommend("content", MovieQuery(engine.resolve("Heat")), k=0)
    with pytest.raises(UnknownTitle) as err:
        engine.recommend("content", MovieQuery(engine.resolve("Qwzxv Jkkvy")), k=5)
    assert "couldn't find" in str(err.value)
    assert issubclass(InvalidInput, MovieBotError)


def test_cli_similar_json(quick_artifacts, capsys):
    from bot.cli import main

    code = main(["similar", "The Matrix", "-k", "3", "--json", "--artifacts", str(quick_artifacts)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["query"]["title"] == "The Matrix" and out["query"]["year"] == 1999
    assert len(out["results"]) == 3
    assert set(out["results"][0]) == {"movie_id", "title", "year", "score", "reason"}


def test_cli_similar_text_and_unknown_title(quick_artifacts, capsys):
    from bot.cli import main

    assert main(["similar", "Toy Story", "-k", "2", "--genre", "Animation",
                 "--artifacts", str(quick_artifacts)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Movies like Toy Story (1995):") and " 2. " in out
    assert main(["similar", "Qwzxv Jkkvy", "--artifacts", str(quick_artifacts)]) == 1
    assert "couldn't find" in capsys.readouterr().err


def test_cli_eval_content_prints_the_table(quick_artifacts, data_dir, capsys):
    from bot.cli import main

    code = main(["eval", "content", "--json", "--artifacts", str(quick_artifacts),
                 "--data-dir", str(data_dir)])
    assert code == 0
    tables = json.loads(capsys.readouterr().out)
    assert set(tables) == {"co-liked", "per user", "hybrid"}   # hybrid: test_similar_hybrid.py
    for name, table in tables.items():
        if name == "hybrid":
            continue
        assert {"tfidf only", "bilstm only", "metadata only", "fused (served)",
                "genre-Jaccard baseline", "popularity baseline"} <= set(table)
        for name, row in table.items():
            assert 0 <= row["ndcg@10"] <= 1 and 0 <= row["recall@10"] <= 1 and row["queries"] > 100
            assert row["se"] >= 0
            if name.startswith(("served without", "served plus")):   # paired with the served row
                assert row["delta_ndcg@10"] == pytest.approx(
                    row["ndcg@10"] - table["fused (served)"]["ndcg@10"], abs=1e-9)


def test_serving_never_imports_tensorflow(quick_artifacts):
    code = ("import sys; from engine import Engine; e = Engine.load(sys.argv[1]); "
            "from engine.queries import MovieQuery; "
            "r = e.recommend('content', MovieQuery(e.resolve('Heat')), k=3); "
            "assert len(r.results) == 3; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'sklearn')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(quick_artifacts)], check=True, timeout=120)
