"""The cross-media engine: mood features, the test-fold guard, the space, serving, eval, CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from engine.crossmedia import baseline
from engine.crossmedia.evaluate import random_metrics, rank_metrics
from engine.crossmedia.mood import (
    MOOD_COLUMNS,
    movie_mood_features,
    poster_colour_stats,
    poster_features,
)
from engine.crossmedia.space import SONG_COLUMNS, VibeSpace, vibe_features
from engine.crossmedia.train_space import (
    FitParams,
    FoldLeak,
    fit_space,
    is_test_movie,
    ranks_of,
    tune,
)
from engine.errors import InvalidInput, UnknownTitle
from engine.queries import SongQuery
from engine.results import Filters, SongPick


# -- mood features -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mood(catalog_frame):
    return movie_mood_features(catalog_frame)


def test_mood_features_are_complete_numbers(mood, catalog_frame):
    assert list(mood.columns) == MOOD_COLUMNS
    assert len(mood) == len(catalog_frame) and not mood.isna().any().any()


def test_mood_features_mean_something(mood, catalog_frame):
    genres = catalog_frame.set_index("movie_id")["genres"]
    horror = mood[genres.map(lambda g: "Horror" in g).to_numpy()]
    children = mood[genres.map(lambda g: "Children" in g).to_numpy()]
    # VADER reads horror overviews as darker than children's films, on real text
    assert horror["sent_compound"].mean() < children["sent_compound"].mean() - 0.2
    assert horror["prior_valence"].mean() < children["prior_valence"].mean()
    va = baseline.movie_valence_arousal(mood)
    assert va.min() >= 0 and va.max() <= 1


def test_poster_colours_optional():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (20, 30), (230, 40, 20)).save(buf, format="PNG")
    brightness, saturation, warmth = poster_colour_stats(buf.getvalue())
    assert brightness > 0.8 and saturation > 0.8 and warmth > 0.8
    frame = pd.DataFrame({"movie_id": [1], "poster_path": ["/x.jpg"]})
    assert poster_features(frame, None) is None                  # offline: skipped cleanly
    assert poster_features(frame, lambda path: None) is None     # fetch failed: skipped
    got = poster_features(frame, lambda path: buf.getvalue())
    assert got.loc[1, "poster_warmth"] == pytest.approx(warmth)


# -- the test fold --------------------------------------------------------------------------
def _toy(seed=0, n_movies=60, n_pairs=80):
    rng = np.random.default_rng(seed)
    movie_feats = pd.DataFrame(rng.normal(size=(n_movies, 5)).astype(np.float32),
                               index=pd.Index(np.arange(1, n_movies + 1), name="movie_id"),
                               columns=[f"m{i}" for i in range(5)])
    song_x = rng.random((n_pairs, len(SONG_COLUMNS))).astype(np.float32)
    train_ids = movie_feats.index[~is_test_movie(movie_feats.index)].to_numpy()
    return song_x, rng.choice(train_ids, n_pairs), movie_feats


def test_training_refuses_test_fold_pairs():
    song_x, ids, feats = _toy()
    ids = ids.copy()
    ids[3] = 10  # 10 % 5 == 0
    with pytest.raises(FoldLeak):
        fit_space(song_x, ids, feats, FitParams(max_iter=5))
    with pytest.raises(FoldLeak):
        tune(song_x, ids, feats, [FitParams(max_iter=5)])


def test_test_fold_movies_cannot_influence_training():
    song_x, ids, feats = _toy()
    params = FitParams(l2=1.0, dim=4, max_iter=50)
    a = fit_space(song_x, ids, feats, params)
    changed = feats.copy()
    changed.loc[is_test_movie(changed.index)] = 1e3  # wildly different test-fold movies
    b = fit_space(song_x, ids, changed, params)
    np.testing.assert_allclose(a.song_proj, b.song_proj)
    np.testing.assert_allclose(a.movie_proj, b.movie_proj)
    assert a.params["train_movies"] == int((~is_test_movie(feats.index)).sum())


def test_space_learns_a_planted_relation():
    # songs with high feature 0 belong to movies with high m0: the fit must rank them up
    rng = np.random.default_rng(1)
    song_x, _, feats = _toy(seed=1, n_pairs=200)
    train = feats[~is_test_movie(feats.index)]
    ids = np.array([train.index[np.argsort(-(train["m0"].to_numpy() * (s[0] - 0.5))
                                           + rng.normal(0, 0.3, len(train)))[0]]
                    for s in song_x])
    space = fit_space(song_x, ids, feats, FitParams(l2=0.1, dim=6, max_iter=200))
    ranks = ranks_of(space, song_x, ids, train)
    assert np.median(ranks) < len(train) / 4


def test_metrics_and_random_expectation():
    m = rank_metrics(np.array([1, 5, 60, 1000]))
    assert m["hr@10"] == 0.5 and m["hr@50"] == 0.5 and m["median_rank"] == 32.5
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(6)) / 4)
    r = random_metrics(10, 1000)
    assert r["hr@50"] == 0.05 and r["median_rank"] == 500.5


def test_space_round_trip(tmp_path):
    song_x, ids, feats = _toy()
    space = fit_space(song_x, ids, feats, FitParams(dim=3, max_iter=20))
    space.save(tmp_path)
    again = VibeSpace.load(tmp_path)
    np.testing.assert_array_equal(space.embed_songs(song_x), again.embed_songs(song_x))
    assert vibe_features(0.2, 0.9, tempo=128).shape == (len(SONG_COLUMNS),)


# -- the built component (the session's quick build) ----------------------------------------
def test_manifest_metrics(engine):
    entry = engine.manifest["components"]["crossmedia"]
    m = entry["metrics"]
    assert m["pairs"] > 800 and m["test_pairs"] > 150
    assert 0 <= m["test_hr@10"] <= m["test_hr@50"] <= 1
    assert entry["params"]["test_fold"] == "movie_id % 5 == 0"
    assert all(not f.endswith((".csv",)) for f in entry["files"])


def song(engine, text, k=10, filters=None):
    return engine.recommend("crossmedia", SongQuery(text), k, filters)


def test_song_recommendations(engine):
    recs = song(engine, "Bohemian Rhapsody - Queen", k=10)
    assert recs.kind == "song" and recs.query.artist == "Queen"
    assert len(recs.results) == 10
    assert len({r.movie.movie_id for r in recs.results}) == 10
    scores = [r.score for r in recs.results]
    assert scores == sorted(scores, reverse=True)
    for rec in recs.results:
        words, _, genres = rec.reason.partition(" -> ")
        assert words and genres and "\n" not in rec.reason
    data = recs.to_json()
    assert json.loads(json.dumps(data))["results"][0]["reason"] == recs.results[0].reason


def test_song_filters_and_vibes(engine):
    filters = Filters(year_min=2000, genres=["Horror"])
    recs = song(engine, "Hello - Adele", k=5, filters=filters)
    assert recs.results and all(r.movie.year >= 2000 and "Horror" in r.movie.genres
                                for r in recs.results)
    happy = song(engine, "vibe valence=0.95 energy=0.9 danceability=0.9", k=20)
    sad = song(engine, "vibe valence=0.05 energy=0.1 acousticness=0.9", k=20)
    assert happy.query.mood.startswith("upbeat") and sad.query.mood.startswith("melancholic")
    assert {r.movie.movie_id for r in happy.results} != {r.movie.movie_id for r in sad.results}
    with pytest.raises(InvalidInput):
        song(engine, "vibe energy=7")
    with pytest.raises(UnknownTitle):
        song(engine, "Qwxyz Plorf - Nobody Zzz")


def test_playlist_for_a_movie(engine):
    picks = engine.recommender("crossmedia").songs_for_movie(engine.resolve("Pulp Fiction"), k=8)
    assert len(picks) == 8 and all(isinstance(p, SongPick) for p in picks)
    assert len({(p.song.name, p.song.artist) for p in picks}) == 8
    assert all(p.song.spotify_url.endswith(p.song.track_id) and " -> " in p.reason for p in picks)


def test_eval_on_built_version(quick_artifacts, data_dir):
    from engine.artifacts import current_version
    from engine.crossmedia.evaluate import evaluate, format_table, target_check

    report = evaluate(current_version(quick_artifacts), data_dir)
    results = report.tables
    assert report.format() == format_table(results) + "\n" + target_check(results)
    assert report.scalars["test_hr@50"] == round(results["learned space"]["hr@50"], 4)
    expected = {"learned space", "random (expected)", "popularity (MovieLens ratings)",
                "genre-only", "hand-defined valence/arousal"}
    assert expected <= set(results)
    pairs = {m["pairs"] for m in results.values()}
    assert len(pairs) == 1 and pairs.pop() > 150
    # a fitted model over 9,742 movies must do better than chance on held-out soundtracks
    assert results["learned space"]["median_rank"] < results["random (expected)"]["median_rank"]
    assert "| learned space |" in format_table(results) and "x" in target_check(results)


def test_cli_song_json_and_errors(quick_artifacts, capsys):
    from bot.cli import main

    assert main(["song", "Bohemian Rhapsody - Queen", "-k", "3", "--json",
                 "--artifacts", str(quick_artifacts)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 3 and out["query"]["artist"] == "Queen"
    assert main(["song", "vibe energy=2", "--artifacts", str(quick_artifacts)]) == 1
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["playlist", "Toy Story", "-k", "3", "--artifacts", str(quick_artifacts)]) == 0
    assert "A playlist for Toy Story" in capsys.readouterr().out


def test_annoy_path_agrees_with_exact_scoring(engine):
    """Big catalogs are served from Annoy; at SEARCH_K it must find the exact top movies."""
    vibe = engine.recommender("crossmedia")
    vec = vibe.resolve(SongQuery("Bohemian Rhapsody - Queen"))[1]
    exact_rows, _ = vibe.movies.top(vec, 10, exact=True)
    annoy_rows, _ = vibe.movies.top(vec, 10, exact=False)
    assert len(set(exact_rows.tolist()) & set(annoy_rows.tolist())) >= 8
