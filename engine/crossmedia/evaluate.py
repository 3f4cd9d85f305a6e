"""`moviebot eval crossmedia`: where does a soundtrack's true movie rank for its song?

For every (song, movie) soundtrack pair whose movie is in the TEST fold
(movie_id % 5 == 0, never trained or tuned on), all catalog movies are ranked for the
song exactly as /song serves them with the featured-in lookup off (model score, then MMR
over the first page), and the true movie's rank is recorded. One table, mean +- standard
error over pairs: the served model, its prior alone, popularity, genre-only and the
hand-defined mapping; then the song-sensitivity checks the ground truth can carry (it is
~200 pairs with a handful of hits, so full ranks paired per pair, not hit-rate ratios):
  - shuffled song: the same movie ranked for another test pair's song; sign test;
  - spread: distinct movies across the top 10 of 200 random songs, largest share;
  - the four vibe corners' overlap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ComponentMissing
from ..metrics import EvalReport, hits_from_ranks, markdown_table, mean_se, ndcg_rows
from . import baseline
from .exposure import with_offsets
from .mood import movie_mood_features
from .serving import served_lists, served_ranks
from .space import SONG_GENRES, VibeSpace, movie_features, song_features, song_genre
from .train_space import is_test_movie, rank_in

SPREAD_SONGS = 200
CORNERS = {"happy/energetic": "vibe happy", "sad/calm": "vibe sad",
           "dark/intense": "vibe dark", "romantic/soft": "vibe romantic"}


def rank_metrics(ranks: np.ndarray) -> dict[str, float]:
    """HR@10/50/100, NDCG@10 (each with its standard error over pairs) and the median rank
    of one true movie per pair, at ``ranks``."""
    ranks = np.asarray(ranks, dtype=float)
    if not len(ranks):
        return {"pairs": 0}
    hits = hits_from_ranks(ranks, 100)
    out: dict[str, float] = {"pairs": int(len(ranks))}
    for k in (10, 50, 100):
        out[f"hr@{k}"], out[f"hr@{k}_se"] = mean_se(hits[:, :k].any(axis=1))
    out["ndcg@10"], out["ndcg@10_se"] = mean_se(
        ndcg_rows(hits[:, :10], np.ones(len(ranks), dtype=np.int64)))
    out["median_rank"] = float(np.median(ranks))
    out["mean_log_rank"], out["mean_log_rank_se"] = mean_se(np.log(ranks))
    return out


def song_effect(with_song: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Paired per test pair: is the true movie ranked better with the true song than under
    ``other`` (a shuffled song, or no song)? Sign test over the untied pairs."""
    from scipy.stats import binomtest  # lazy: scipy.stats is slow to import; eval only

    diff = other.astype(float) - with_song.astype(float)
    better, worse = int((diff > 0).sum()), int((diff < 0).sum())
    p = float(binomtest(better, better + worse, 0.5, alternative="greater").pvalue) \
        if better + worse else 1.0
    med_song, med_other = float(np.median(with_song)), float(np.median(other))
    return {"better": better / len(diff), "worse": worse / len(diff), "sign_p": p,
            "median_rank": med_song, "median_rank_other": med_other,
            "median_improvement": 1 - med_song / med_other if med_other else 0.0}


def random_metrics(pairs: int, n_movies: int) -> dict[str, float]:
    """Exact expectations for a uniformly random ranking (no sampling noise): the metrics
    of every rank 1..n once."""
    return {**rank_metrics(np.arange(1, n_movies + 1)), "pairs": int(pairs)}


def genre_affinity(train_songs: pd.DataFrame, train_movie_genres: list[list[str]],
                   all_movie_genres: list[list[str]]) -> dict[tuple[str, str], float]:
    """log lift of movie genre given song genre, from training pairs (add-one smoothed)."""
    base: dict[str, float] = {}
    for gs in all_movie_genres:
        for g in gs:
            base[g] = base.get(g, 0) + 1
    total = len(all_movie_genres)
    counts: dict[tuple[str, str], float] = {}
    per_song_genre: dict[str, float] = {}
    for sg, mg in zip(train_songs["genres"], train_movie_genres, strict=True):
        for s in song_genre(sg):
            per_song_genre[s] = per_song_genre.get(s, 0) + 1
            for g in mg:
                counts[(s, g)] = counts.get((s, g), 0) + 1
    lift = {}
    for s in SONG_GENRES:
        n = per_song_genre.get(s, 0)
        for g, b in base.items():
            p = (counts.get((s, g), 0) + 1) / (n + 2)
            lift[(s, g)] = float(np.log(p / (b / total)))
    return lift


def genre_only_scores(songs: pd.DataFrame, movie_genres: list[list[str]],
                      lift: dict[tuple[str, str], float]) -> np.ndarray:
    """Mean lift over (song genre, movie genre) combinations, for every song x movie."""
    names = sorted({g for gs in movie_genres for g in gs})
    col = {g: i for i, g in enumerate(names)}
    movies = np.zeros((len(movie_genres), len(names)), dtype=np.float32)
    for j, gs in enumerate(movie_genres):
        for g in gs:
            movies[j, col[g]] = 1.0 / len(gs)
    song_m = np.zeros((len(songs), len(SONG_GENRES)), dtype=np.float32)
    for i, sg in enumerate(songs["genres"]):
        s_genres = song_genre(sg) or ["other"]
        for s in s_genres:
            song_m[i, SONG_GENRES.index(s)] = 1.0 / len(s_genres)
    table = np.array([[lift.get((s, g), 0.0) for g in names] for s in SONG_GENRES],
                     dtype=np.float32)
    return song_m @ table @ movies.T


def evaluate_space(space: VibeSpace, pairs: pd.DataFrame, songs: pd.DataFrame,
                   catalog: pd.DataFrame, mood: pd.DataFrame, movie_x: pd.DataFrame,
                   seed: int = 0, offsets: np.ndarray | None = None) -> dict[str, dict]:
    """Metrics per method on the test-fold pairs; candidates are all catalog movies.

    ``pairs`` has movie_id and track_id; ``mood`` are mood features and ``movie_x`` the
    model's movie features, both indexed by movie_id in catalog order.
    """
    songs_by_id = songs.set_index("track_id")
    test = pairs[is_test_movie(pairs["movie_id"].to_numpy())].reset_index(drop=True)
    train = pairs[~is_test_movie(pairs["movie_id"].to_numpy())]
    test_songs = songs_by_id.loc[test["track_id"]].reset_index()
    ids = movie_x.index.to_numpy()
    true = test["movie_id"].to_numpy()
    col = {int(m): i for i, m in enumerate(ids)}
    true_rows = np.array([col[int(m)] for m in true])
    results: dict[str, dict] = {}

    movie_vecs = space.embed_movies(movie_x.to_numpy(np.float32)).astype(np.float32)
    # the prior alone: the movie's prior coordinate, the same list for every song (before
    # the exposure offsets: the strongest song-free list)
    prior = movie_vecs[:, -1].copy()
    movie_vecs = with_offsets(movie_vecs, offsets, space.prior_weight)
    song_vecs = space.embed_songs(song_features(test_songs)).astype(np.float32)
    served = served_ranks(song_vecs, movie_vecs, true_rows)
    results["served model (featured off)"] = rank_metrics(served)
    prior_ranks = rank_in(np.broadcast_to(prior, (len(test), len(ids))), ids, true)
    results["(ablation) prior only, no song"] = rank_metrics(prior_ranks)
    # the same movies, each queried with another test pair's song (a derangement)
    rng = np.random.default_rng(seed)
    perm = _derangement(len(test), rng)
    shuffled = served_ranks(song_vecs[perm], movie_vecs, true_rows)
    results["(control) shuffled song"] = rank_metrics(shuffled)

    results["random (expected)"] = random_metrics(len(test), len(ids))
    counts = catalog.set_index("movie_id").loc[ids, "rating_count"].fillna(0).to_numpy(float)
    results["popularity (MovieLens ratings)"] = rank_metrics(
        rank_in(np.broadcast_to(counts, (len(test), len(ids))), ids, true))

    genres_by_id = catalog.set_index("movie_id")["genres"].map(lambda g: [str(x) for x in g])
    movie_genres = genres_by_id.loc[ids].tolist()
    train_songs = songs_by_id.loc[train["track_id"]].reset_index()
    lift = genre_affinity(train_songs, genres_by_id.loc[train["movie_id"]].tolist(), movie_genres)
    results["genre-only"] = rank_metrics(rank_in(genre_only_scores(test_songs, movie_genres, lift),
                                                 ids, true))
    hand = baseline.scores(baseline.song_valence_arousal(test_songs),
                           baseline.movie_valence_arousal(mood.loc[ids]))
    results["hand-defined valence/arousal"] = rank_metrics(rank_in(hand, ids, true))

    results["song sensitivity"] = {
        "vs shuffled song": song_effect(served, shuffled),
        "vs prior only": song_effect(served, prior_ranks)}
    results["spread"] = spread(space, songs, movie_vecs, rng)
    results["corners"] = corners(space, movie_vecs, ids, catalog)
    return results


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation with no fixed point: every pair gets another pair's song (one random
    cycle through all pairs)."""
    if n < 2:
        return np.arange(n)
    perm = rng.permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.roll(perm, 1)
    return out


def spread(space: VibeSpace, songs: pd.DataFrame, movie_vecs: np.ndarray,
           rng: np.random.Generator) -> dict[str, float]:
    """Distinct movies across the served top 10 of SPREAD_SONGS random songs, and the
    largest share of lists one movie is in."""
    rows = rng.choice(len(songs), size=min(SPREAD_SONGS, len(songs)), replace=False)
    vecs = space.embed_songs(song_features(songs.iloc[rows])).astype(np.float32)
    lists = served_lists(vecs, movie_vecs, 10)
    counts = np.bincount(lists.ravel(), minlength=len(movie_vecs))
    return {"songs": int(len(rows)), "distinct_movies": int((counts > 0).sum()),
            "largest_share": float(counts.max() / len(rows))}


def corners(space: VibeSpace, movie_vecs: np.ndarray, ids: np.ndarray,
            catalog: pd.DataFrame) -> dict:
    """Top 10 of each vibe corner and how many movies each pair of corners shares."""
    from .song_lookup import parse_vibe
    from .space import SONG_COLUMNS, vibe_features

    titles = catalog.set_index("movie_id")["title"]
    tops = {}
    for name, query in CORNERS.items():
        vibe = parse_vibe(query[5:])
        feats = vibe_features(vibe.valence, vibe.energy, **{
            k: v for k, v in vibe.values.items() if k not in ("valence", "energy")})
        known = [c for c in SONG_COLUMNS if c in ("valence", "energy", "tempo_z", "loudness_z",
                 "danceability", "acousticness", "instrumentalness", "speechiness", "mode")]
        vec = space.embed_vibe(feats, known)[None, :].astype(np.float32)
        tops[name] = served_lists(vec, movie_vecs, 10)[0]
    names = list(tops)
    overlap = {f"{a} & {b}": int(len(set(tops[a]) & set(tops[b])))
               for i, a in enumerate(names) for b in names[i + 1:]}
    return {"overlap": overlap,
            "lists": {n: [str(titles.get(int(ids[r]), ids[r])) for r in rows]
                      for n, rows in tops.items()}}


METHODS_ORDER = ("served model (featured off)", "(ablation) prior only, no song",
                 "(control) shuffled song", "popularity (MovieLens ratings)", "genre-only",
                 "hand-defined valence/arousal", "random (expected)")


def format_table(results: dict[str, dict]) -> str:
    def pm(m, key):
        return f"{m.get(key, 0):.3f} ± {m.get(key + '_se', 0):.3f}"

    table = markdown_table(
        ("method", "pairs", "HR@10", "HR@50", "HR@100", "NDCG@10", "median rank"),
        ((name, str(m.get("pairs", 0)), pm(m, "hr@10"), pm(m, "hr@50"), pm(m, "hr@100"),
          pm(m, "ndcg@10"), f"{m.get('median_rank', float('nan')):.0f}")
         for name in METHODS_ORDER if (m := results.get(name))))
    lines = [table]
    for label, eff in results.get("song sensitivity", {}).items():
        lines.append(f"true song {label}: true movie ranked better for {eff['better']:.0%} of "
                     f"pairs, worse for {eff['worse']:.0%} (sign test p = {eff['sign_p']:.3g}); "
                     f"median rank {eff['median_rank']:.0f} vs {eff['median_rank_other']:.0f} "
                     f"({eff['median_improvement']:+.0%})")
    sp = results.get("spread")
    if sp:
        lines.append(f"spread: {sp['distinct_movies']} distinct movies in the top 10 of "
                     f"{sp['songs']} random songs; the most frequent is in "
                     f"{sp['largest_share']:.0%} of lists")
    cn = results.get("corners")
    if cn:
        lines.append("vibe corners, shared of 10: " + ", ".join(
            f"{k} {v}" for k, v in cn["overlap"].items()))
    return "\n".join(lines)


def evaluate(version_dir: Path, data_dir: Path) -> EvalReport:
    """Re-run the test-fold evaluation on a built version (its space, pairs and tables);
    ``data_dir`` is not read: everything comes from the version."""
    version = Path(version_dir)
    cm = version / "crossmedia"
    if not (cm / "space.npz").exists():
        raise ComponentMissing("crossmedia")
    catalog = pd.read_parquet(version / "catalog.parquet")
    songs = pd.read_parquet(cm / "songs.parquet")
    pairs = pd.read_parquet(cm / "pairs.parquet")
    mood = movie_mood_features(catalog)
    movie_x = movie_features(mood, catalog)
    offsets = np.load(cm / "movie_offsets.npy") if (cm / "movie_offsets.npy").exists() else None
    results = evaluate_space(VibeSpace.load(cm), pairs, songs, catalog, mood, movie_x,
                             offsets=offsets)
    return EvalReport("crossmedia", results, scalars(results),
                      format_table(results) + "\n" + target_check(results))


def scalars(results: dict[str, dict]) -> dict[str, float]:
    """The served model's test-fold numbers (as the build stage writes them)."""
    served = results.get("served model (featured off)", {})
    return {**{f"test_{m}": round(served.get(m, 0.0), 4)
               for m in ("hr@10", "hr@50", "hr@100", "ndcg@10")},
            "test_median_rank": served.get("median_rank", float("nan"))}


def target_check(results: dict[str, dict]) -> str:
    """The issue's targets, each met or not, in one line apiece."""
    served = results["served model (featured off)"]
    prior = results["(ablation) prior only, no song"]
    pop = results["popularity (MovieLens ratings)"]
    shuf = results["song sensitivity"]["vs shuffled song"]
    vs_prior = results["song sensitivity"]["vs prior only"]
    sp, cn = results["spread"], results["corners"]["overlap"]
    checks = [
        ("true song beats shuffled for >= 60% of pairs, sign p < 0.01",
         shuf["better"] >= 0.6 and shuf["sign_p"] < 0.01),
        ("median rank >= 25% better than shuffled", shuf["median_improvement"] >= 0.25),
        ("median rank >= 25% better than prior only", vs_prior["median_improvement"] >= 0.25),
        ("HR@50 >= 2x popularity", served.get("hr@50", 0) >= 2 * pop.get("hr@50", 0)),
        ("HR@50 >= prior only", served.get("hr@50", 0) >= prior.get("hr@50", 0)),
        (">= 800 distinct movies over 200 songs x 10", sp["distinct_movies"] >= 800),
        ("no movie in more than 5% of lists", sp["largest_share"] <= 0.05),
        ("happy/energetic and sad/calm share <= 1 of 10",
         cn.get("happy/energetic & sad/calm", 10) <= 1),
    ]
    return "\n".join(f"[{'met' if ok else 'NOT met'}] {text}" for text, ok in checks)
