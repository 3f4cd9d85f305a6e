"""The `crossmedia` build stage: soundtrack pairs -> vibe space -> Annoy indices -> eval.

Writes only below ``<version>/crossmedia/``:
  pairs.parquet        matched (movie_id, track_id) soundtrack pairs, with the credit line
  space.npz/.json      the two projections into the shared space, params, tuning log
  movies.ann, movie_ids.npy   Annoy (dot) index of movies in the space
  movies_vectors.npy   the exact movie vectors it indexes (mmap'd for exact scoring)
  songs.ann, song_ids.npy     Annoy (dot) index of songs in the space (playlists for a movie)
  songs_vectors.npy    every song's vector, computed here so serving starts without it
  songs.parquet               the songs table those were built from (a hard link to the version's)
  featured.parquet     "featured in the soundtrack" credits (all folds: a lookup, off in eval)
  lookup_keys.parquet  normalised title/artist/alternate-title keys of the songs (start-up)
  eval.json            test-fold metrics for the served model and every baseline
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.build_context import BuildContext, StageResult
from engine.errors import DataError
from engine.retrieval import Retriever

from . import evaluate as ev
from .exposure import REFERENCE_SONGS, exposure_offsets, with_offsets
from .featured import credited_only_table, featured_table
from .mood import movie_mood_features
from .serving import MMR_LAMBDA
from .song_lookup import lookup_keys
from .soundtracks import load_soundtracks, match_songs
from .space import movie_features, song_features
from .train_space import FitParams, fit_space, is_test_movie, tune

N_TREES = 20
GRID = [FitParams()]          # the base; tune() searches the term weights around it
QUICK = FitParams(max_iter=60)


def songs_table(ctx: BuildContext) -> pd.DataFrame:
    if "songs" not in ctx.tables:
        path = ctx.out_dir / "songs.parquet"
        if not path.exists():
            raise DataError(str(path), "the crossmedia stage needs the songs table",
                            "build the `songs` stage first")
        ctx.tables["songs"] = pd.read_parquet(path)
    return ctx.tables["songs"]


def write_annoy(path: Path, vectors: np.ndarray, seed: int, keep_vectors: bool = False
                ) -> list[Path]:
    index = Retriever.build(vectors, "dot", trees=N_TREES, seed=seed)
    return index.save(path, vectors if keep_vectors else None)


def build_stage(ctx: BuildContext) -> StageResult:
    out = ctx.component_dir("crossmedia")
    catalog = ctx.tables["catalog"]
    songs = songs_table(ctx).reset_index(drop=True)

    credits = load_soundtracks(ctx.data_dir)
    pairs = match_songs(credits, songs)
    pairs = pairs[pairs["movie_id"].isin(set(catalog["movie_id"].astype(int)))]
    pairs.to_parquet(out / "pairs.parquet", index=False)
    featured = featured_table(pairs, songs, catalog, credits)
    featured.to_parquet(out / "featured.parquet", index=False)

    mood = movie_mood_features(catalog)
    movie_x = movie_features(mood, catalog)
    song_row = pd.Series(np.arange(len(songs)), index=songs["track_id"])
    all_song_x = song_features(songs)

    # the test fold is cut here, before anything is fitted or tuned
    train = pairs[~is_test_movie(pairs["movie_id"].to_numpy())]
    train_x = all_song_x[song_row.loc[train["track_id"]].to_numpy()]
    if ctx.quick:
        params, tuning = QUICK, []
    else:
        rng = np.random.default_rng(ctx.seed)
        spread_x = all_song_x[rng.choice(len(all_song_x), size=min(200, len(all_song_x)),
                                         replace=False)]
        # reference songs for the exposure offsets: another draw than the spread check's
        reference_x = all_song_x[rng.choice(len(all_song_x), size=min(
            REFERENCE_SONGS, len(all_song_x)), replace=False)]
        params, tuning = tune(train_x, train["movie_id"].to_numpy(), movie_x, GRID, spread_x,
                              reference_x)
    params = replace(params, seed=ctx.seed)  # GRID/QUICK are shared constants
    space = fit_space(train_x, train["movie_id"].to_numpy(), movie_x, params)
    space.params["tuning"] = tuning
    files = space.save(out)

    movie_vecs = space.embed_movies(movie_x.to_numpy(np.float32)).astype(np.float32)
    song_vecs = space.embed_songs(all_song_x).astype(np.float32)
    # no film in every list: per-movie offsets over random songs (label-free), folded
    # into the prior coordinate so serving and evaluation score them as before
    reference = song_vecs[np.random.default_rng(ctx.seed + 1).choice(
        len(song_vecs), size=min(REFERENCE_SONGS, len(song_vecs)), replace=False)]
    offsets = exposure_offsets(reference, movie_vecs, params.exposure_cap)
    np.save(out / "movie_offsets.npy", offsets)
    files.append(out / "movie_offsets.npy")
    movie_vecs = with_offsets(movie_vecs, offsets, space.prior_weight)
    files += write_annoy(out / "movies.ann", movie_vecs, ctx.seed, keep_vectors=True)
    files += write_annoy(out / "songs.ann", song_vecs, ctx.seed, keep_vectors=True)
    np.save(out / "movie_ids.npy", movie_x.index.to_numpy(np.int64))
    # fixed-width unicode, not an object array: loading it never needs pickle
    np.save(out / "song_ids.npy", songs["track_id"].astype(str).to_numpy(dtype=str))

    results = ev.evaluate_space(space, pairs, songs, catalog, mood, movie_x, offsets=offsets)
    (out / "eval.json").write_text(json.dumps(results, indent=1))
    served = results["served model (featured off)"]
    shuffled = results["song sensitivity"]["vs shuffled song"]
    metrics = {
        "pairs": int(len(pairs)), "pair_movies": int(pairs["movie_id"].nunique()),
        "featured_credits": int(len(featured)),
        "test_pairs": served.get("pairs", 0),
        "test_hr@10": round(served.get("hr@10", 0.0), 4),
        "test_hr@50": round(served.get("hr@50", 0.0), 4),
        "test_ndcg@10": round(served.get("ndcg@10", 0.0), 4),
        "test_median_rank": served.get("median_rank"),
        "prior_only_hr@50": round(results["(ablation) prior only, no song"].get("hr@50", 0), 4),
        "popularity_hr@50": round(results["popularity (MovieLens ratings)"].get("hr@50", 0), 4),
        "beats_shuffled_song": round(shuffled["better"], 4),
        "spread_distinct_movies": results["spread"]["distinct_movies"],
        "spread_largest_share": round(results["spread"]["largest_share"], 4),
    }
    ctx.log.debug("crossmedia: %s", metrics)
    files.append(_keep_songs_table(ctx, songs, out))
    keys = lookup_keys(songs)
    keys.to_parquet(out / "lookup_keys.parquet", index=False)
    files.append(out / "lookup_keys.parquet")
    known = set(keys["title_key"]) | {k for alts in keys["alt_keys"] for k in alts.split("|") if k}
    credited = credited_only_table(credits, known, set(catalog["movie_id"].astype(int)))
    credited.to_parquet(out / "credited.parquet", index=False)
    files.append(out / "credited.parquet")
    metrics["credited_only_songs"] = int(credited["title_key"].nunique())
    files += [out / n for n in ("pairs.parquet", "featured.parquet", "movie_ids.npy",
                                "song_ids.npy", "eval.json")]
    return {"files": sorted(str(Path(f).relative_to(ctx.out_dir)) for f in files),
            "metrics": metrics,
            "params": {"w_genre": params.w_genre, "w_audio": params.w_audio,
                       "prior_weight": params.prior_weight,
                       "exposure_cap": params.exposure_cap,
                       "dim": space.dim, "quick": ctx.quick, "mmr_lambda": MMR_LAMBDA,
                       "annoy_trees": N_TREES, "test_fold": "movie_id % 5 == 0",
                       "tuning_fold": "movie_id % 5 == 1",
                       "poster_colours": "skipped: no TMDB image download in builds"}}


def _keep_songs_table(ctx: BuildContext, songs: pd.DataFrame, out: Path) -> Path:
    """The songs table the indices were built from, inside the component's own folder, so
    serving reads nothing outside it (a hard link to the version's table: no second copy)."""
    target, shared = out / "songs.parquet", ctx.out_dir / "songs.parquet"
    target.unlink(missing_ok=True)
    try:
        os.link(shared, target)
    except OSError:    # no shared table (a test's context) or a file system without links
        songs.to_parquet(target, index=False)
    return target
