"""The `collab` build stage: choose the default model on validation users, train it on
everyone, give content-only films a vector, and write the Annoy index.

It runs after the content stage (engine/components.py): films nobody rated get their
vectors from their neighbours by the content stage's fused vectors (cold_items.py).

Writes only below ``<version>/collab/``:
  collab.json       default model, validation table, onboarding list, index settings
  model/            the default model's arrays (numpy, loaded with mmap)
  item_ids.npy      movieId of each model row;  popularity.npy  likes per row
  index.ann         Annoy index of the item vectors (extra-dimension transform)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError

from ..metrics import ndcg_at_k
from .cold_items import fused_neighbours, load_fused
from .diversity import title_stem
from .interactions import Interactions, load_training_ratings
from .models import ALS, EASE, Autoencoder, Popularity, RankingModel
from .probe import describe, probe_holdout, without_probe
from .ranking_eval import calibrate_search_k, rank_exact, score_model
from .split import HeldOut, Split, split_users
from .vectors import VectorIndex

ONBOARDING = 40
# per-user validation NDCG@10 of the default model, keyed by user (the retrain gate's pairs)
VALIDATION_SCORES = "validation_scores.json"
TREES = 50


def candidates(quick: bool) -> list[RankingModel]:
    """The models compared on validation users; the best NDCG@10 becomes the default."""
    if quick:
        return [Popularity(), ALS(factors=32, reg=5.0, alpha=1.0, iterations=5),
                EASE(reg=500, rank=96, binary=False), Autoencoder(hidden=64, epochs=8)]
    # settings picked on validation users of both MovieLens sets (docs/collab.md)
    return [Popularity(), ALS(factors=64, reg=5.0, alpha=1.0, iterations=12),
            EASE(reg=500, rank=256, binary=False), Autoencoder(hidden=256, epochs=100)]


def training_ratings(ctx) -> tuple[pd.DataFrame, dict | None]:
    """ML ratings (ctx.ratings_path, or ml-latest-small) + chat feedback, catalog films only,
    less the held-out probe's ratings (engine/collab/probe.py; ml-latest-small only), and
    the probe's description (None when nothing is held out)."""
    ratings = load_training_ratings(ctx.data_dir, ctx.ratings_path, ctx.feedback)
    held_out = None
    if ctx.ratings_path is None:
        probe = probe_holdout(ratings[~ratings["user"].str.startswith("chat:")])
        before = len(ratings)
        ratings = without_probe(ratings, probe)
        held_out = describe(probe, before - len(ratings))
    catalog = ctx.tables.get("catalog")
    if catalog is not None:
        ratings = ratings[ratings["item"].isin(catalog["movie_id"])]
    if ratings.empty:
        raise DataError(str(ctx.ratings_path or ctx.data_dir), "no ratings of catalog movies",
                        "pass a MovieLens-format ratings.csv whose movieIds match the catalog")
    return ratings, held_out


def select_model(ratings: pd.DataFrame, quick: bool, seed: int,
                 min_item_count: int) -> tuple[RankingModel, dict, Split]:
    # chat users always train: the validation users are then the same MovieLens users in
    # every build with the same seed, so the retrain gate can compare two builds user by user
    chat = set(ratings.loc[ratings["user"].str.startswith("chat:"), "user"])
    split = split_users(ratings, seed=seed, val_frac=0.2, test_frac=0.0,
                        min_item_count=min_item_count, always_train=chat)
    X = split.train.matrix(positive_only=False)
    table = {}
    best: RankingModel | None = None
    for model in candidates(quick):
        started = time.perf_counter()
        model.fit(X)
        metrics = score_model(model, split.val, k=10)
        metrics["fit_seconds"] = round(time.perf_counter() - started, 2)
        table[model.kind] = {m: round(v, 5) for m, v in metrics.items()}
        if best is None or metrics["ndcg@10"] > table[best.kind]["ndcg@10"]:
            best = model
    return best, table, split


def per_user_scores(model: RankingModel, held: HeldOut, k: int = 10) -> dict[str, float]:
    """NDCG@k of ``model`` for each held-out user (the retrain gate pairs them by user)."""
    ranked = rank_exact(model, held, k)
    return {str(user): round(ndcg_at_k(ids.tolist(), targets, k), 6)
            for user, ids, targets in zip(held.user_ids, ranked, held.targets, strict=True)}


def pick_onboarding(catalog: pd.DataFrame | None, item_ids: np.ndarray,
                    popularity: np.ndarray, n: int = ONBOARDING) -> list[int]:
    """Most-liked films, at most two per main genre and one per franchise."""
    if catalog is None:
        return [int(item_ids[i]) for i in np.argsort(-popularity)[:n]]
    table = catalog.set_index("movie_id")
    genres: Counter[str] = Counter()
    stems: set[str] = set()
    out = []
    for col in np.argsort(-popularity, kind="stable"):
        movie_id = int(item_ids[col])
        if movie_id not in table.index:
            continue
        row = table.loc[movie_id]
        main = row["genres"][0] if len(row["genres"]) else ""
        stem = title_stem(row["title"])
        if genres[main] >= 2 or stem in stems:
            continue
        genres[main] += 1
        stems.add(stem)
        out.append(movie_id)
        if len(out) >= n:
            break
    return out


def build_stage(ctx) -> dict:
    catalog = ctx.tables.get("catalog")
    # before any training: without the content stage's vectors, say so now, not minutes later
    fused = load_fused(ctx.out_dir) if catalog is not None else None
    out = Path(ctx.component_dir("collab"))
    ratings, probe = training_ratings(ctx)
    min_count = 10 if ctx.quick else 2
    chosen, table, split = select_model(ratings, ctx.quick, ctx.seed, min_count)
    val_scores = per_user_scores(chosen, split.val)
    ctx.log.info("collab validation ndcg@10: %s -> default %s",
                 ", ".join(f"{kind} {row['ndcg@10']:.4f}" for kind, row in table.items()),
                 chosen.kind)

    # Train the chosen kind on every user: chat users' feedback included.
    inter = Interactions.from_ratings(ratings, min_item_count=min_count)
    model = type(chosen)(**chosen.params).fit(inter.matrix(positive_only=False))
    item_ids = inter.item_ids
    popularity = np.asarray((inter.matrix() > 0).sum(axis=0), dtype=np.float32).ravel()

    n_cold = 0
    if catalog is not None and fused is not None:
        cold = np.setdiff1d(catalog["movie_id"].to_numpy(np.int64), item_ids)
        cold_ids, weights = fused_neighbours(*fused, item_ids, cold)
        if len(cold_ids):
            model.extend(weights)
            item_ids = np.concatenate([item_ids, cold_ids])
            popularity = np.concatenate([popularity, np.zeros(len(cold_ids), np.float32)])
            n_cold = len(cold_ids)
    # Annoy needs rows in id order for searchsorted lookups at serving time
    order = np.argsort(item_ids, kind="stable")
    item_ids, popularity = item_ids[order], popularity[order]
    for name in model.item_arrays:
        setattr(model, name, np.asarray(getattr(model, name))[order])

    files = model.save(out / "model")
    np.save(out / "item_ids.npy", item_ids)
    np.save(out / "popularity.npy", popularity)
    index = VectorIndex.build(model.item_vectors(), out / "index.ann", trees=TREES, seed=ctx.seed)
    # validation users' histories, re-indexed into the final item order, tune search effort
    val_users = _reindex(split.val, split.train.item_ids, item_ids)
    search_k, recall = calibrate_search_k(model, index, val_users)
    meta = {
        "default": model.kind, "selected_by": "validation ndcg@10 (held-out users)",
        "validation": table, "index_dim": index.dim, "trees": TREES, "search_k": search_k,
        "annoy_recall@10": round(recall, 4),
        "items": len(item_ids), "content_only_items": n_cold,
        "ratings": len(ratings), "users": int(ratings["user"].nunique()),
        "onboarding": pick_onboarding(catalog, item_ids, popularity),
    }
    (out / "collab.json").write_text(json.dumps(meta, indent=2))
    (out / VALIDATION_SCORES).write_text(json.dumps(
        {"metric": "ndcg@10", "model": chosen.kind, "seed": ctx.seed, "scores": val_scores}))
    rel = [str(p.relative_to(ctx.out_dir)) for p in
           [*files, out / "item_ids.npy", out / "popularity.npy", out / "index.ann", out / "collab.json",
            out / VALIDATION_SCORES]]
    return {"files": rel,
            "metrics": {"default": model.kind, "val_ndcg@10": table[model.kind]["ndcg@10"],
                        "val_users": table[model.kind]["users"],
                        "validation": table, "items": len(item_ids), "content_only_items": n_cold,
                        "search_k": search_k, "annoy_recall@10": round(recall, 4),
                        "probe_holdout": probe},
            "params": {"model": model.params, "min_item_count": min_count,
                       "ratings_path": str(ctx.ratings_path or "ml-latest-small")}}


def _reindex(held: HeldOut, old_ids: np.ndarray, new_ids: np.ndarray) -> HeldOut:
    """Held-out rows over ``old_ids`` columns, moved to the columns of ``new_ids``.

    Validation histories were indexed by the split's training items; columns the final
    model does not have are dropped."""
    import scipy.sparse as sp

    X = held.history.tocoo()
    movie = np.asarray(old_ids)[X.col]
    pos = np.clip(np.searchsorted(new_ids, movie), 0, len(new_ids) - 1)
    ok = new_ids[pos] == movie
    Y = sp.csr_matrix((X.data[ok], (X.row[ok], pos[ok])), shape=(X.shape[0], len(new_ids)))
    return HeldOut(Y, held.targets, held.user_ids)
