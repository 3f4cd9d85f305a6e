"""Content engine building blocks on small hand-made inputs (no TensorFlow, no data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.content import evaluate as ev
from engine.content import index as idx
from engine.content.fusion import (
    BlockSimilarity,
    best_choice,
    choose_fusion,
    fuse,
    l2_rows,
    prepare_block,
    weight_grid,
)
from engine.content.serving import reason
from engine.content.text import Vocab, tokenize
from engine.metrics import ndcg_rows, standard_error
from engine.results import Movie


def test_tokenize_folds_accents_and_keeps_contractions():
    assert tokenize("Amélie's DREAM-world, 2001!") == ["amelie's", "dream", "world", "2001"]
    assert tokenize("") == []


def test_vocab_pads_maps_unknown_and_round_trips(tmp_path):
    vocab = Vocab.build([["a", "b", "a"], ["a", "c", "b"]], min_count=2)
    assert vocab.words == ["<pad>", "<oov>", "a", "b"]
    assert vocab.encode(["a", "zzz", "b"], 5).tolist() == [2, 1, 3, 0, 0]
    assert vocab.encode(["a"] * 9, 4).tolist() == [2, 2, 2, 2]
    vocab.save(tmp_path / "v.json", max_len=4)
    assert Vocab.load(tmp_path / "v.json").words == vocab.words


def _blocks(rng, n=40):
    blocks = {"a": rng.normal(size=(n, 5)), "b": rng.normal(size=(n, 3)), "c": rng.normal(size=(n, 4))}
    blocks["b"][:7] = 0.0  # movies without text have no vector in this block
    return {k: v.astype(np.float32) for k, v in blocks.items()}


def test_fused_cosine_is_weighted_mean_of_block_cosines():
    rng = np.random.default_rng(0)
    blocks = _blocks(rng)
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}
    fused = fuse(blocks, weights)
    assert np.allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    i, j = 10, 20  # both have every block
    expected = sum(w * float(prepare_block(blocks[n])[i] @ prepare_block(blocks[n])[j])
                   for n, w in weights.items())
    assert fused[i] @ fused[j] == pytest.approx(expected, abs=1e-5)


def test_block_similarity_matches_fused_vectors_even_with_missing_blocks():
    rng = np.random.default_rng(1)
    blocks = _blocks(rng)
    queries = np.array([0, 3, 15, 39])  # 0 and 3 lack block b
    sims = BlockSimilarity(blocks, queries)
    for weights in ({"a": 0.2, "b": 0.5, "c": 0.3}, {"a": 0.0, "b": 1.0, "c": 0.0}):
        fused = fuse(blocks, weights)
        present = np.linalg.norm(fused, axis=1) > 0
        got = sims.scores(weights)
        want = fused[queries] @ fused.T
        assert np.allclose(got[:, present][present[queries]], want[:, present][present[queries]],
                           atol=1e-5)


def test_weight_grid_covers_the_simplex():
    grid = weight_grid(["x", "y", "z"], 0.1)
    assert len(grid) == 66
    assert all(abs(sum(w.values()) - 1) < 1e-9 for w in grid)


def test_two_stage_annoy_matches_exact_search_and_scores():
    rng = np.random.default_rng(2)
    fused = l2_rows(rng.normal(size=(200, 8)).astype(np.float32))
    prior = rng.random(200).astype(np.float32)
    lam, n_cand = 0.4, 30
    index = idx.build_annoy(fused, n_trees=10)
    want = idx.exact_served(fused, prior, 5, lam, n_cand)
    got = idx.annoy_served(index, prior, 5, lam, n_cand, search_k=10_000)  # search_k >= n: exact
    assert got.tolist() == want.tolist()
    cos = fused @ fused[5]
    cos[5] = -np.inf
    candidates = np.argsort(-cos)[:n_cand]
    assert set(want) <= set(candidates.tolist())  # popularity only reorders similar films
    served = (1 - lam) * cos[candidates] + lam * prior[candidates]
    assert want.tolist() == candidates[np.argsort(-served)][:10].tolist()
    # the vectorised evaluation scorer gives the same list
    scorer = ev.served_scorer(fused, prior, lam, n_cand)
    assert ev.top_k(scorer(np.array([5])), np.array([5]))[0].tolist() == want.tolist()


def test_angular_distance_gives_the_cosine():
    rng = np.random.default_rng(5)
    fused = l2_rows(rng.normal(size=(50, 6)).astype(np.float32))
    index = idx.build_annoy(fused, n_trees=5)
    index.search_k = 1000
    ids, cos = index.top(0, 5, exact=False)   # Annoy's angular distance, turned into a cosine
    assert np.allclose(cos, fused[ids] @ fused[0], atol=1e-4)


def test_choose_params_reports_measured_recall():
    rng = np.random.default_rng(3)
    fused = l2_rows(rng.normal(size=(500, 6)).astype(np.float32))
    prior = rng.random(500).astype(np.float32)
    _, params, trials = idx.choose_params(fused, prior, np.arange(50), 0.3, 40, tree_options=(5, 10),
                                          k_options=(50, 5000), target=0.95)
    assert params.recall_at_10 >= 0.95
    assert len(trials) >= 2 and all(0 <= t["recall@10"] <= 1 for t in trials)


def test_ranking_metrics_by_hand():
    qs = ev.QuerySet(np.array([0, 1]), [np.array([2, 3]), np.array([5])])
    ranked = np.array([[2, 9, 3] + [8] * 7, [9, 8, 7, 6, 4, 10, 11, 12, 13, 14]])
    m = ev.ranking_metrics(ranked, qs)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx((dcg / idcg + 0) / 2)
    assert m["recall@10"] == pytest.approx((1.0 + 0.0) / 2)


def test_top_k_never_returns_the_query():
    scores = np.array([[9.0, 1, 2, 3], [0, 9.0, 8, 1]])
    top = ev.top_k(scores, np.array([0, 1]), k=2)
    assert top.tolist() == [[3, 2], [2, 3]]


def test_user_split_is_seeded_and_disjoint():
    ratings = pd.DataFrame({"userId": np.repeat(np.arange(20), 3), "movieId": 1, "rating": 5.0})
    val, test = ev.split_users(ratings, seed=7)
    assert not set(val) & set(test) and len(val) + len(test) == 20
    assert ev.split_users(ratings, seed=7)[0].tolist() == val.tolist()


def test_queries_exclude_the_query_and_non_liked():
    ratings = pd.DataFrame({"userId": [1, 1, 1, 1, 2, 2], "movieId": [10, 20, 30, 40, 10, 20],
                            "rating": [5, 4, 2, 4.5, 5, 1]})
    qs = ev.make_queries(ratings, np.array([1, 2]), np.array([10, 20, 30, 40]), per_user=5)
    assert len(qs) == 3  # user 2 liked only one movie: no query
    for q, rel in zip(qs.queries, qs.relevant, strict=True):
        assert q not in rel and 2 not in rel  # movie 30 (row 2) was rated 2


def test_choose_fusion_prefers_the_informative_block():
    rng = np.random.default_rng(4)
    n = 60
    groups = np.repeat(np.arange(6), 10)
    good = np.eye(6)[groups] + 0.05 * rng.normal(size=(n, 6))
    noise = rng.normal(size=(n, 6))
    queries = np.arange(0, n, 3)
    qs = ev.QuerySet(queries, [np.flatnonzero((groups == groups[q]) & (np.arange(n) != q)) for q in queries],
                     queries // 6)
    prior = rng.random(n).astype(np.float32)  # unrelated to relevance
    choice, tried = choose_fusion({"good": good, "noise": noise}, prior, qs, step=0.25,
                                  lams=(0.5,), gammas=(1.0,), candidates=(20,))
    assert choice.weights["good"] >= 0.75 and choice.lam == 0.0
    assert choice.validation["ndcg@10"] > 0.9 and len(tried) == 5 * 2


def test_best_choice_takes_the_best_validation_score_ties_to_less_prior():
    def trial(tfidf, lam, n, ndcg):
        return {"weights": {"tfidf": tfidf, "metadata": 1 - tfidf}, "lam": lam, "gamma": 1.0,
                "n_candidates": n, "ndcg@10": ndcg, "se": 0.01}
    trials = [trial(0.0, 0.8, 400, 0.195), trial(0.3, 0.6, 400, 0.200), trial(0.3, 0.3, 200, 0.200),
              trial(0.3, 0.3, 100, 0.200), trial(0.9, 0.0, 0, 0.150)]
    assert best_choice(trials) is trials[3]  # best score; of the ties, smallest lam, fewest candidates


def test_co_liked_queries_rank_by_cosine_and_ignore_chance_overlaps():
    # movie 1 has 12 fans; 10 of them also like movie 2, all 12 like blockbuster 3 (liked by
    # everyone: 40 fans), 2 of them like movie 4 (below min_co), 5 of them dislike movie 5.
    rows = []
    for user in range(40):
        rows.append((user, 3, 5.0))
        if user < 12:
            rows.append((user, 1, 4.5))
        if user < 10:
            rows.append((user, 2, 4.0))
        if user < 2:
            rows.append((user, 4, 5.0))
        if user < 5:
            rows.append((user, 5, 1.0))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    movie_ids = np.array([1, 2, 3, 4, 5])
    qs = ev.co_liked_queries(ratings, np.arange(40), movie_ids, min_likes=10, top=20, min_co=3)
    by_query = dict(zip(qs.queries.tolist(), qs.relevant, strict=True))
    assert set(by_query) == {0, 1, 2}       # movies 1, 2, 3 have >= 10 fans; 4 and 5 do not
    # for movie 1: cos(1,2) = 10/sqrt(12*10) = 0.91 beats cos(1,3) = 12/sqrt(12*40) = 0.55;
    # movie 4 shares only 2 fans, movie 5 was disliked: neither is relevant
    assert by_query[0].tolist() == [1, 2]
    assert qs.users is None and 0 not in by_query[0]
    # only the given users count: with users 20-39 nobody but the blockbuster has fans
    assert len(ev.co_liked_queries(ratings, np.arange(20, 40), movie_ids)) == 0


def test_cluster_standard_error_counts_users_not_queries():
    values = np.array([1.0, 1.0, 0.0, 0.0])
    naive = standard_error(values)
    assert naive == pytest.approx(np.std(values, ddof=1) / 2)
    # two users who each always hit or always miss: effectively 2 observations, not 4
    clustered = standard_error(values, np.array([1, 1, 2, 2]))
    assert clustered > naive


def test_per_query_ndcg_matches_ranking_metrics():
    qs = ev.QuerySet(np.array([0, 1]), [np.array([2, 3]), np.array([5])])
    ranked = np.array([[2, 9, 3] + [8] * 7, [9, 8, 7, 6, 5, 10, 11, 12, 13, 14]])
    hits = qs.relevance(20)[np.arange(2)[:, None], ranked]
    per_query = ndcg_rows(hits, np.array([2, 1]))
    assert per_query.mean() == pytest.approx(ev.ranking_metrics(ranked, qs)["ndcg@10"])


def test_centring_removes_the_shared_direction_but_keeps_missing_rows_empty():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [0.0, 0.0], [3.0, 10.0]], dtype=np.float32)
    out = prepare_block(x)
    assert not out[2].any()
    # every present row keeps unit length, even row 1 which sits exactly on the mean
    assert np.allclose(np.linalg.norm(out[[0, 1, 3]], axis=1), 1.0, atol=1e-6)
    assert out[0] @ out[3] < 0  # raw cosines are all ~1; centred, the extremes are opposite


def test_reason_names_what_is_shared_most_specific_first():
    a = Movie(1, "Inception", 2010, genres=["Action", "Sci-Fi"], keywords=["dream", "heist"],
              cast=["Leonardo DiCaprio", "Tom Hardy"], directors=["Christopher Nolan"], overview="x")
    b = Movie(2, "Interstellar", 2014, genres=["Sci-Fi"], keywords=["dream"],
              cast=["Matthew McConaughey"], directors=["Christopher Nolan"], overview="y")
    assert reason(a, b) == "same director Christopher Nolan · themes: dream · both Sci-Fi"
    c = Movie(3, "Obscure", 1950)
    assert reason(a, c) == "similar era and standing"
    # TMDB has both "london, england" and "england": say it once
    d = Movie(4, "Notting Hill", 1999, keywords=["london, england", "england", "bookshop"])
    e = Movie(5, "The Holiday", 2006, keywords=["england", "london, england", "bookshop"])
    assert reason(d, e) == "themes: london, england, bookshop"


def test_field_weights_are_chosen_on_the_metric():
    from engine.content.tfidf import TfidfConfig, tfidf_vectors

    rng = np.random.default_rng(6)
    words = [f"w{i}" for i in range(40)]
    n = 24
    group = np.arange(n) % 2  # the "relevant" structure lives in the director field only
    catalog = pd.DataFrame({
        "overview": [" ".join(rng.choice(words, 8)) for _ in range(n)], "tagline": "",
        "genres": [["Drama"]] * n, "tmdb_genres": [[]] * n, "keywords": [[]] * n,
        "cast": [[f"actor {i % 5}"] for i in range(n)],
        "directors": [[f"director {g}"] for g in group]})
    queries = np.arange(0, n, 2)
    qs = ev.QuerySet(queries, [np.flatnonzero((group == group[q]) & (np.arange(n) != q)) for q in queries])

    def metric(vectors):
        return ev.evaluate_scores(l2_rows(vectors)[queries] @ l2_rows(vectors).T, qs)["ndcg@10"]

    cfg = TfidfConfig(n_components=4, min_df=1)
    vectors, params = tfidf_vectors(catalog, cfg, metric=metric)
    trials = params["field_weight_trials"]
    assert len(trials) == 1 + 2 * 4  # equal weights, then halve / double each non-empty field
    assert params["field_weights"] != dict.fromkeys(params["field_weights"], 1.0)
    assert metric(vectors) == pytest.approx(max(t["ndcg@10"] for t in trials), abs=1e-4)
    assert metric(vectors) > trials[0]["ndcg@10"]  # better than equal field weights
    _, plain = tfidf_vectors(catalog, cfg)
    assert set(plain["field_weights"].values()) == {1.0} and plain["field_weight_trials"] == []


def test_too_few_ratings_to_choose_weights_is_a_clear_data_error(tmp_path):
    from engine.build_context import BuildContext
    from engine.content.build import build_stage
    from engine.errors import DataError

    catalog = pd.DataFrame({"movie_id": [1, 2, 3], "title": ["A", "B", "C"]})
    ratings = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [1, 2, 2, 3], "rating": 5.0})
    ctx = BuildContext(data_dir=tmp_path, out_dir=tmp_path / "v1", quick=True, progress=False,
                       ratings_path=tmp_path / "ratings.csv",
                       tables={"catalog": catalog, "ratings": ratings})
    with pytest.raises(DataError) as error:
        build_stage(ctx)
    message = str(error.value)
    assert "ratings.csv" in message and "too few" in message and "--ratings" in message
