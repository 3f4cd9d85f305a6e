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
    MAX_SHARE,
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


# -- the test fold ---------------------------------------------------------------------------
def _toy(seed=0, n_movies=60, n_pairs=80):
    """Movies with a year, a genre and a mood; songs with a year and audio. Each pair's
    movie is among those released 0-6 years after its song (a planted era relation)."""
    from engine.crossmedia.space import YEAR_CENTERS, year_basis

    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_movies + 1)
    years = rng.integers(1960, 2015, n_movies).astype(float)
    movie_feats = pd.DataFrame(year_basis(years), index=pd.Index(ids, name="movie_id"),
                               columns=[f"my_{y}" for y in YEAR_CENTERS])
    movie_feats["g_Drama"] = rng.integers(0, 2, n_movies).astype(float)
    movie_feats["prior_valence"] = rng.random(n_movies)
    movie_feats["pop_log"] = rng.random(n_movies)
    movie_feats = movie_feats.astype(np.float32)
    train_ids = ids[~is_test_movie(ids)]
    song_x = np.zeros((n_pairs, len(SONG_COLUMNS)), dtype=np.float32)
    pair_ids = rng.choice(train_ids, n_pairs)
    song_years = years[pair_ids - 1] - rng.integers(0, 7, n_pairs)
    cols = [SONG_COLUMNS.index(f"sy_{y}") for y in YEAR_CENTERS]
    song_x[:, cols] = year_basis(song_years)
    song_x[:, SONG_COLUMNS.index("valence")] = rng.random(n_pairs)
    return song_x, pair_ids, movie_feats


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
    params = FitParams(max_iter=50)
    a = fit_space(song_x, ids, feats, params)
    changed = feats.copy()
    changed.loc[is_test_movie(changed.index)] = 1e3  # wildly different test-fold movies
    b = fit_space(song_x, ids, changed, params)
    np.testing.assert_allclose(a.song_proj, b.song_proj)
    np.testing.assert_allclose(a.movie_proj, b.movie_proj)
    assert a.params["train_movies"] == int((~is_test_movie(feats.index)).sum())


def test_model_learns_a_planted_era_relation_and_the_song_drives_it():
    song_x, ids, feats = _toy(seed=1, n_movies=120, n_pairs=300)
    train = feats[~is_test_movie(feats.index)]
    space = fit_space(song_x, ids, feats, FitParams(prior_weight=0.1))
    ranks = ranks_of(space, song_x, ids, train)
    shuffled = ranks_of(space, song_x[np.roll(np.arange(len(ids)), 1)], ids, train)
    assert np.median(ranks) < len(train) / 5
    assert (ranks < shuffled).mean() > 0.7          # the song, not the prior, ranks the movie
    # the era term says "films come after their songs": a gap of +3 years beats -30
    llr = space.params["year_gap_llr"]
    assert llr[0] > llr[-30]


def test_metrics_and_random_expectation():
    m = rank_metrics(np.array([1, 5, 60, 1000]))
    assert m["hr@10"] == 0.5 and m["hr@50"] == 0.5 and m["median_rank"] == 32.5
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(6)) / 4)
    r = random_metrics(10, 1000)
    assert r["hr@50"] == 0.05 and r["median_rank"] == 500.5


def test_space_round_trip(tmp_path):
    song_x, ids, feats = _toy()
    space = fit_space(song_x, ids, feats, FitParams(max_iter=20))
    space.save(tmp_path)
    again = VibeSpace.load(tmp_path)
    np.testing.assert_array_equal(space.embed_songs(song_x), again.embed_songs(song_x))
    vibe = vibe_features(0.2, 0.9, tempo=128)
    assert vibe.shape == (len(SONG_COLUMNS),)
    np.testing.assert_array_equal(space.embed_vibe(vibe, ["valence", "energy"]),
                                  again.embed_vibe(vibe, ["valence", "energy"]))


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
    for rec in recs.results:
        assert rec.reason and "\n" not in rec.reason
        # "Featured in the soundtrack of ..." or "a fast, moody rock song → a drama from the 1990s"
        assert rec.reason.startswith("Featured in the soundtrack") or " → " in rec.reason
    data = recs.to_json()
    assert json.loads(json.dumps(data))["results"][0]["reason"] == recs.results[0].reason


def test_featured_in_comes_first_and_turns_off(engine):
    """Spotify names the film ("Lose Yourself - From "8 Mile" Soundtrack"): 8 Mile first,
    marked; featured=False is the vibe model alone (what evaluation uses)."""
    on = engine.song("Lose Yourself - Eminem", k=10)
    top = [r.movie.title for r in on.results[:3]]
    assert "8 Mile" in top
    first = next(r for r in on.results if r.movie.title == "8 Mile")
    assert first.reason == "Featured in the soundtrack of 8 Mile"
    off = engine.song("Lose Yourself - Eminem", k=10, featured=False)
    assert not any(r.reason.startswith("Featured") for r in off.results)


def test_song_takes_k_up_to_the_catalog(engine):
    n = len(engine.recommender("crossmedia").movie_ids)
    full = engine.song("Bohemian Rhapsody - Queen", k=n, featured=False)
    assert len({r.movie.movie_id for r in full.results}) == n
    # the first page of the full ranking is the page the chat shows
    page = engine.song("Bohemian Rhapsody - Queen", k=10, featured=False)
    assert [r.movie.movie_id for r in full.results[:10]] == [r.movie.movie_id for r in page.results]
    with pytest.raises(InvalidInput):
        engine.song("Bohemian Rhapsody - Queen", k=n + 1)


def test_artist_and_mood_queries_say_what_they_did(engine):
    from engine.crossmedia.serving import ResolvedArtist, song_header

    recs = engine.song("Queen", k=5)
    assert isinstance(recs.query, ResolvedArtist) and recs.query.artist == "Queen"
    header = song_header(recs.query)
    assert "Queen's typical vibe" in header and "/song " in header
    sad = engine.song("vibe sad", k=5)
    assert song_header(sad.query) == "Movies for a sad mood:"
    typed = engine.song("vibe energy=0.1 valence=0.1", k=5)
    assert "vibe energy" not in song_header(typed.query)


def test_a_song_only_the_soundtracks_know_answers_where_it_is_featured(engine):
    """"Take Five" is not in the song table (so there is no sound to read), yet IMDb credits
    it on Pleasantville and Mighty Aphrodite: /song says so instead of answering with the
    band "Take/Five"'s horror-film vibe."""
    from engine.crossmedia.serving import ResolvedCredit, song_header

    for query in ("Take Five", "Take Five - Dave Brubeck"):
        recs = engine.song(query, k=10)
        assert isinstance(recs.query, ResolvedCredit) and recs.query.song == "Take Five"
        titles = {r.movie.title for r in recs.results}
        assert {"Pleasantville", "Mighty Aphrodite"} <= titles
        assert all(r.reason.startswith("Featured in the soundtrack of") for r in recs.results)
        assert "not in my song table" in song_header(recs.query)
    with pytest.raises(UnknownTitle):      # the vibe model alone has nothing to go on
        engine.song("Take Five", k=10, featured=False)
    assert "Take/Five" in song_header(engine.song("Take/Five", k=5).query)


def test_the_romantic_corner_is_love_stories(engine):
    """Read as calm alone, "romantic" found documentaries and quiet dramas."""
    recs = engine.song("vibe romantic", k=10)
    genres = [r.movie.genres for r in recs.results]
    assert sum("Romance" in g for g in genres) >= 5
    assert not any("Documentary" in g for g in genres)
    happy, sad = engine.song("vibe happy", k=10), engine.song("vibe sad", k=10)
    assert len({r.movie.movie_id for r in happy.results}
               & {r.movie.movie_id for r in sad.results}) <= 1


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
    assert all(p.song.spotify_url.endswith(p.song.track_id) and " → " in p.reason for p in picks)


def test_eval_on_built_version(quick_artifacts, data_dir):
    from engine.artifacts import current_version
    from engine.crossmedia.evaluate import evaluate, format_table, target_check

    report = evaluate(current_version(quick_artifacts), data_dir)
    results = report.tables
    assert report.format() == format_table(results) + "\n" + target_check(results)
    served = results["served model (featured off)"]
    assert report.scalars["test_hr@50"] == round(served["hr@50"], 4)
    expected = {"served model (featured off)", "(ablation) prior only, no song",
                "(control) shuffled song", "random (expected)", "popularity (MovieLens ratings)",
                "genre-only", "hand-defined valence/arousal"}
    assert expected <= set(results)
    pairs = {results[name]["pairs"] for name in expected}
    assert len(pairs) == 1 and pairs.pop() > 150
    assert 0 <= served["hr@50_se"] < 0.1 and served["hr@10"] <= served["hr@50"] <= served["hr@100"]
    # a fitted model over 9,742 movies must do better than chance on held-out soundtracks
    assert served["median_rank"] < results["random (expected)"]["median_rank"]
    effect = results["song sensitivity"]["vs shuffled song"]
    assert 0 <= effect["better"] + effect["worse"] <= 1 and 0 <= effect["sign_p"] <= 1
    assert results["spread"]["songs"] == 200 and results["spread"]["distinct_movies"] >= 10
    assert len(results["corners"]["lists"]) == 4
    text = format_table(results)
    assert "| served model (featured off) |" in text and "±" in text
    assert "[met]" in target_check(results) or "[NOT met]" in target_check(results)


def test_eval_ranks_are_what_engine_song_serves(engine, quick_artifacts):
    """The evaluation's served ranks are Engine.song(..., featured=False) over the catalog."""
    from engine.crossmedia.evaluate import served_ranks

    vibe = engine.recommender("crossmedia")
    n = len(vibe.movie_ids)
    row = vibe.lookup.find("Hello - Adele")
    full = engine.song("Hello - Adele", k=n, featured=False)
    order = [vibe.row_of_movie[r.movie.movie_id] for r in full.results]
    probes = np.array([order[0], order[7], order[60], order[n // 2]])
    vecs = np.repeat(np.asarray(vibe.song_vecs[row], dtype=np.float32)[None, :], len(probes), 0)
    ranks = served_ranks(vecs, np.asarray(vibe.movies.vectors), probes)
    assert ranks.tolist() == [1, 8, 61, n // 2 + 1]


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


def test_tuning_picks_an_exposure_cap_on_the_tuning_fold_and_logs_the_trade_off():
    from engine.crossmedia.exposure import EXPOSURE_CAPS

    song_x, ids, feats = _toy(n_movies=80, n_pairs=120)
    rng = np.random.default_rng(1)
    random_songs = song_x[rng.integers(0, len(song_x), 300)].copy()
    random_songs[:, SONG_COLUMNS.index("valence")] = rng.random(300)
    params, log = tune(song_x, ids, feats, [FitParams(max_iter=5)],
                       spread_songs=random_songs[:40], reference_songs=random_songs[40:])
    capped = [e for e in log if "exposure_cap" in e]
    assert {e["exposure_cap"] for e in capped} == {None, *EXPOSURE_CAPS}
    assert params.exposure_cap in (None, *EXPOSURE_CAPS)
    # the chosen setting meets the share cap, or is at least as diverse as no offsets
    same = [e for e in capped if (e["w_genre"], e["w_audio"], e["prior_weight"]) ==
            (params.w_genre, params.w_audio, params.prior_weight)]
    chosen = next(e for e in same if e["exposure_cap"] == params.exposure_cap)
    uncapped = next(e for e in same if e["exposure_cap"] is None)
    assert chosen["largest_share"] <= max(MAX_SHARE, uncapped["largest_share"])
