"""`moviebot eval crossmedia`: where does a soundtrack's true movie rank for its song?

For every (song, movie) soundtrack pair whose movie is in the TEST fold
(movie_id % 5 == 0, never trained or tuned on), all catalog movies are scored for the
song and the true movie's rank is recorded. Reported: HR@10, HR@50, NDCG@10 and the
median rank, for the learned space and for baselines (random, popularity by ratings and by votes,
genre-only, the hand-defined valence/arousal mapping).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ComponentMissing
from ..metrics import EvalReport, hits_from_ranks, markdown_table, ndcg_rows
from . import baseline
from .mood import movie_mood_features
from .space import SONG_GENRES, VibeSpace, movie_features, song_features, song_genre
from .train_space import is_test_movie, rank_in


def rank_metrics(ranks: np.ndarray) -> dict[str, float]:
    """HR@10, HR@50, NDCG@10 and the median rank of one true movie per pair, at ``ranks``."""
    ranks = np.asarray(ranks, dtype=float)
    if not len(ranks):
        return {"pairs": 0}
    hits = hits_from_ranks(ranks, 50)
    return {"pairs": int(len(ranks)), "hr@10": float(hits[:, :10].any(axis=1).mean()),
            "hr@50": float(hits.any(axis=1).mean()),
            "ndcg@10": float(ndcg_rows(hits[:, :10], np.ones(len(ranks), dtype=np.int64)).mean()),
            "median_rank": float(np.median(ranks))}


def song_effect(with_song: np.ndarray, prior_only: np.ndarray) -> dict[str, float]:
    """Paired comparison per test pair: does knowing the song move the true movie up?"""
    from scipy.stats import wilcoxon  # lazy: scipy.stats is slow to import; eval only

    diff = prior_only.astype(float) - with_song.astype(float)
    p = float(wilcoxon(prior_only, with_song).pvalue) if np.any(diff) else 1.0
    return {"better": float((diff > 0).mean()), "worse": float((diff < 0).mean()),
            "median_rank_gain": float(np.median(diff)), "wilcoxon_p": p}


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


def evaluate_space(space: VibeSpace, pairs: pd.DataFrame, songs: pd.DataFrame, catalog: pd.DataFrame,
             mood: pd.DataFrame, movie_x: pd.DataFrame) -> dict[str, dict]:
    """Metrics per method on the test-fold pairs; candidates are all catalog movies.

    ``pairs`` has movie_id and track_id; ``mood`` are mood features and ``movie_x`` the
    space's movie features, both indexed by movie_id in catalog order.
    """
    songs_by_id = songs.set_index("track_id")
    test = pairs[is_test_movie(pairs["movie_id"].to_numpy())]
    train = pairs[~is_test_movie(pairs["movie_id"].to_numpy())]
    test_songs = songs_by_id.loc[test["track_id"]].reset_index()
    ids = movie_x.index.to_numpy()
    true = test["movie_id"].to_numpy()
    results = {}

    x = song_features(test_songs)
    learned = space.embed_songs(x) @ space.embed_movies(movie_x.to_numpy(np.float32)).T
    learned_ranks = rank_in(learned, ids, true)
    results["learned space"] = rank_metrics(learned_ranks)
    # ablation: the learned per-movie prior alone (the song's constant-1 row), same for all songs
    prior = space.embed_movies(movie_x.to_numpy(np.float32)) @ space.song_proj[-1]
    prior_ranks = rank_in(np.broadcast_to(prior, (len(test), len(ids))), ids, true)
    results["(ablation) learned movie prior, no song"] = rank_metrics(prior_ranks)
    results["(ablation) learned movie prior, no song"]["song_helps"] = song_effect(
        learned_ranks, prior_ranks)

    results["random (expected)"] = random_metrics(len(test), len(ids))

    counts = catalog.set_index("movie_id").loc[ids, "rating_count"].fillna(0).to_numpy(float)
    pop = np.broadcast_to(counts, (len(test), len(ids)))
    results["popularity (MovieLens ratings)"] = rank_metrics(rank_in(pop, ids, true))
    votes = catalog.set_index("movie_id").loc[ids, "vote_count"].fillna(0).to_numpy(float)
    results["popularity (TMDB votes)"] = rank_metrics(
        rank_in(np.broadcast_to(votes, (len(test), len(ids))), ids, true))

    genres_by_id = catalog.set_index("movie_id")["genres"].map(lambda g: [str(x) for x in g])
    movie_genres = genres_by_id.loc[ids].tolist()
    train_songs = songs_by_id.loc[train["track_id"]].reset_index()
    lift = genre_affinity(train_songs, genres_by_id.loc[train["movie_id"]].tolist(), movie_genres)
    results["genre-only"] = rank_metrics(rank_in(genre_only_scores(test_songs, movie_genres, lift),
                                            ids, true))

    hand = baseline.scores(baseline.song_valence_arousal(test_songs),
                           baseline.movie_valence_arousal(mood.loc[ids]))
    results["hand-defined valence/arousal"] = rank_metrics(rank_in(hand, ids, true))
    return results


def format_table(results: dict[str, dict]) -> str:
    return markdown_table(
        ("method", "pairs", "HR@10", "HR@50", "NDCG@10", "median rank"),
        ((name, str(m.get("pairs", 0)), f"{m.get('hr@10', 0):.3f}", f"{m.get('hr@50', 0):.3f}",
          f"{m.get('ndcg@10', 0):.3f}", f"{m.get('median_rank', float('nan')):.0f}")
         for name, m in results.items()))


def evaluate(version_dir: Path, data_dir: Path) -> EvalReport:
    """Re-run the test-fold evaluation on a built version (its space, pairs and tables);
    ``data_dir`` is not read: everything comes from the version."""
    version = Path(version_dir)
    cm = version / "crossmedia"
    if not (cm / "space.npz").exists():
        raise ComponentMissing("crossmedia")
    catalog = pd.read_parquet(version / "catalog.parquet")
    songs = pd.read_parquet(version / "songs.parquet")
    pairs = pd.read_parquet(cm / "pairs.parquet")
    mood = movie_mood_features(catalog)
    movie_x = movie_features(mood, catalog["year"].to_numpy())
    results = evaluate_space(VibeSpace.load(cm), pairs, songs, catalog, mood, movie_x)
    return EvalReport("crossmedia", results, scalars(results),
                      format_table(results) + "\n" + target_check(results))


def scalars(results: dict[str, dict]) -> dict[str, float]:
    """The learned space's test-fold numbers (as the build stage writes them)."""
    learned = results.get("learned space", {})
    return {**{f"test_{m}": round(learned.get(m, 0.0), 4) for m in ("hr@10", "hr@50", "ndcg@10")},
            "test_median_rank": learned.get("median_rank", float("nan"))}


def target_check(results: dict[str, dict]) -> str:
    """One line: learned HR@50 against the best of the four baselines (target: 3x)."""
    learned = results["learned space"].get("hr@50", 0.0)
    name, best = max(((n, m.get("hr@50", 0.0)) for n, m in results.items()
                      if not n.startswith(("learned", "(ablation)"))), key=lambda t: t[1])
    ratio = learned / best if best else float("inf")
    verdict = "meets" if ratio >= 3 else "misses"
    line = (f"learned HR@50 {learned:.3f} vs best baseline ({name}) {best:.3f}: "
            f"{ratio:.1f}x, {verdict} the 3x target")
    effect = results.get("(ablation) learned movie prior, no song", {}).get("song_helps")
    if effect:
        line += (f"\nsong vs prior alone: true movie ranked higher for {effect['better']:.0%} "
                 f"of pairs, lower for {effect['worse']:.0%}, median gain "
                 f"{effect['median_rank_gain']:.0f} ranks, Wilcoxon p = {effect['wilcoxon_p']:.3f}")
    return line
