"""The `content` build stage: encoder, TF-IDF, metadata, fusion, Annoy, evaluation.

Writes only below ``<version>/content/``:
  bilstm.npy tfidf.npy metadata.npy   per-block movie vectors (float32, catalog row order)
  vocab.json labels.json              the encoder's tokenizer vocabulary and genre labels
  encoder.weights.h5                  the trained encoder (catalog updates embed new films with it)
  ids.npy                             movie_id of each index item
  index.ann                           Annoy (angular) over the fused content vectors
  prior.npy                           the popularity prior of each item (for the rerank)
  vectors.npy                         the fused vectors Annoy indexes (exact filtered search)
  content.json                        weights, prior, rerank size, selection, index parameters
  hybrid.json cf_*.npy                the served hybrid's weights and co-like neighbours (hybrid.py)
  facets.json franchise.npy ...       franchise, director, language and country facts (facets.py)
  audience.npy audience_predicted.npy the encoder's audience head (audience.py): every film's
  audience_warm.npy                   audience vector (real if warm, else predicted), the raw
                                      predictions, and which films have a real one
  tfidf_model.json tfidf_idf.npy      the fitted TF-IDF transform and SVD components, and the
  tfidf_components.npy                metadata scale: a film outside the catalog (TMDB, on
  metadata_model.json                 demand) gets its vector from them (foldin.py)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import movielens
from ..errors import DataError
from . import evaluate as ev
from . import hybrid
from . import index as idx
from .audience import DIM, QUICK_DIM, AudienceTargets, audience_targets, stand_in
from .facets import Facets
from .fusion import RULE, BlockSimilarity, choose_fusion, fuse, usable_blocks
from .hybrid_eval import best_nonzero_audience, cold_movies, evaluate_hybrid, locale_queries
from .layout import BLOCK_FILES, CONFIG, ENCODER_WEIGHTS, METADATA_MODEL, TFIDF_MODEL_FILES
from .metadata import metadata_model, metadata_vectors, vote_percentile
from .serving import VECTORS
from .text import movie_text
from .tfidf import TfidfConfig, tfidf_vectors

# --quick: a smaller prior grid (the weight grid is 0.25 there) so the stage stays short
QUICK_GRID = {"lams": (0.3, 0.6, 0.9), "gammas": (1.0, 16.0), "candidates": (50, 200)}
# The recall@10 target; the cheapest (n_trees, search_k) reaching it wins, which
# keeps the latency target (p99 <= 1 ms) within reach for the 400-candidate rerank.
RECALL_TARGET = 0.95
# The co-liked ground truth (evaluate.co_liked_queries): a query movie needs 10 fans in the
# user group, its relevant movies are its 20 most co-liked ones with >= 3 fans in common.
CO_LIKED = {"min_likes": 10, "top": 20, "min_co": 3}
# fewer queries than this and the weights would be chosen on noise
MIN_VALIDATION_QUERIES = 30


def ratings_for(ctx) -> pd.DataFrame:
    if "ratings" in ctx.tables:
        return ctx.tables["ratings"]
    if ctx.ratings_path:
        return movielens.ratings(ctx.ratings_path)
    return movielens.small_ratings(ctx.data_dir)


def block_metric(val_q: ev.QuerySet):
    """vectors -> validation NDCG@10 of that block alone (centred cosine, as fused)."""
    return lambda vectors: ev.evaluate_scores(
        BlockSimilarity({"b": vectors}, val_q.queries).scores({"b": 1.0}), val_q)["ndcg@10"]


def encoder_targets(ratings: pd.DataFrame, movie_ids: np.ndarray, seed: int,
                    quick: bool) -> AudienceTargets:
    """The encoder's audience targets: training users only (split_users3), the cold-item
    films (hybrid_eval.cold_movies) left out, so the cold rows of the eval are honest."""
    train_users, _, _ = ev.split_users3(ratings, seed)
    return audience_targets(ratings, train_users, movie_ids, cold_movies(movie_ids, seed), seed,
                            dim=QUICK_DIM if quick else DIM)


def compute_blocks(catalog: pd.DataFrame, quick: bool, seed: int, progress: bool,
                   val_q: ev.QuerySet | None = None, audience: AudienceTargets | None = None,
                   out: Path | None = None):
    """Every block's vectors plus the encoder's artifacts and metrics.

    With validation queries (full builds), TF-IDF's per-field weights are chosen on them.
    With audience targets the encoder also learns to predict them (audience.py). With
    ``out``, the TF-IDF and metadata transforms are saved there too (foldin.py embeds a
    film outside the catalog with them).
    """
    # lazy: TensorFlow takes seconds to import and only this build step needs it
    from .train_encoder import EncoderConfig, train_encoder

    started = time.perf_counter()
    texts = [movie_text(row) for _, row in catalog.iterrows()]
    encoder = train_encoder(texts, [list(g) for g in catalog["genres"]],
                            EncoderConfig.quick() if quick else EncoderConfig(),
                            seed=seed, progress=progress,
                            audience=None if audience is None else audience.vectors,
                            weights_out=None if out is None else out / ENCODER_WEIGHTS)
    encoder_s = time.perf_counter() - started
    tfidf, tfidf_params = tfidf_vectors(catalog, TfidfConfig.quick() if quick else TfidfConfig(), seed,
                                        metric=block_metric(val_q) if val_q is not None else None,
                                        save_to=out)
    meta, meta_params = metadata_vectors(catalog)
    if out is not None:
        (out / METADATA_MODEL).write_text(json.dumps(metadata_model(catalog)))
    blocks = {"tfidf": tfidf, "bilstm": encoder.embeddings, "metadata": meta}
    params = {"encoder": encoder.params, "tfidf": tfidf_params, "metadata": meta_params,
              "encoder_seconds": round(encoder_s, 1),
              "tfidf_metadata_seconds": round(time.perf_counter() - started - encoder_s, 1)}
    return blocks, encoder, params


def build_stage(ctx) -> dict:
    out = ctx.component_dir("content")
    catalog = ctx.tables["catalog"].reset_index(drop=True)
    ratings = ratings_for(ctx)
    movie_ids = catalog["movie_id"].to_numpy(dtype=np.int64)

    # Users are split first: validation users' likes choose TF-IDF field weights, fusion
    # weights, the prior and the rerank size; test users' likes only score the result.
    per_user = 2 if ctx.quick else 5
    train_users, val_users, test_users = ev.split_users3(ratings, ctx.seed)
    val_q = ev.co_liked_queries(ratings, val_users, movie_ids, **CO_LIKED)
    if len(val_q) < MIN_VALIDATION_QUERIES:
        raise DataError(str(ctx.ratings_path or "MovieLens ratings.csv"),
                        f"only {len(val_q)} movies have {CO_LIKED['min_likes']}+ likes among the "
                        "validation users, too few to choose the content fusion weights",
                        fix="build with a larger MovieLens ratings file (--ratings)")
    cold_ids = cold_movies(movie_ids, ctx.seed)
    targets = encoder_targets(ratings, movie_ids, ctx.seed, ctx.quick)
    blocks, encoder, params = compute_blocks(catalog, ctx.quick, ctx.seed, ctx.progress,
                                             None if ctx.quick else val_q, targets, out)
    predicted = (encoder.audience if encoder.audience is not None
                 else np.zeros_like(targets.vectors))
    audience = stand_in(predicted, targets)
    np.save(out / "audience.npy", audience)
    np.save(out / "audience_predicted.npy", predicted.astype(np.float32))
    np.save(out / "audience_warm.npy", targets.warm)
    for name, vecs in blocks.items():
        np.save(out / BLOCK_FILES[name], vecs.astype(np.float32))
    encoder.vocab.save(out / "vocab.json", max_len=encoder.max_len)
    (out / "labels.json").write_text(json.dumps({"classes": encoder.labels}))

    percentile = vote_percentile(catalog)
    started = time.perf_counter()
    usable = usable_blocks(blocks)
    choice, tried = choose_fusion(usable, percentile, val_q, step=0.25 if ctx.quick else 0.1,
                                  **QUICK_GRID if ctx.quick else {})
    fusion_seconds = time.perf_counter() - started
    weights = {name: choice.weights.get(name, 0.0) for name in blocks}
    fused = fuse(usable, choice.weights)
    prior = (percentile ** choice.gamma).astype(np.float32)

    # n_trees / search_k from measured recall of the served list against exact search.
    rng = np.random.default_rng(ctx.seed)
    sample = rng.choice(len(fused), size=min(300 if ctx.quick else 1000, len(fused)), replace=False)
    started = time.perf_counter()
    annoy, index_params, trials = idx.choose_params(
        fused, prior, sample, choice.lam, choice.n_candidates, seed=ctx.seed, target=RECALL_TARGET,
        tree_options=(10, 25) if ctx.quick else (10, 25, 50, 100))
    index_seconds = time.perf_counter() - started
    idx.save(annoy, out / "index.ann")
    np.save(out / "ids.npy", movie_ids)
    np.save(out / "prior.npy", prior)
    np.save(out / VECTORS, fused.astype(np.float32))

    # The hybrid: co-likes of the training users and the facets, weighted on validation users
    started = time.perf_counter()
    facets = Facets.of(catalog)
    co = hybrid.CoLikes(hybrid.like_matrix(ratings, train_users, movie_ids))
    # the language constraint's films: the validation half only (the test half scores it)
    locale_val, _ = locale_queries(catalog, ctx.seed)
    language_check = hybrid.LanguageCheck(fused, percentile, co, facets, locale_val, audience,
                                          targets.warm)
    hweights, hybrid_info = hybrid.choose_weights(
        hybrid.Components(fused, percentile, co, facets, val_q.queries), val_q.relevant,
        language_check if len(locale_val) else None, hybrid.HybridWeights(lam=choice.lam, gamma=choice.gamma,
                                              cold_lam=choice.lam, cold_gamma=choice.gamma,
                                              cold_candidates=choice.n_candidates or 10),
        log=ctx.log.info)
    # The audience stand-in for films without co-likes, weighted on the validation users'
    # co-likes of the cold films (which lost their training ratings, as in the eval)
    cold_rows = np.flatnonzero(np.isin(movie_ids, cold_ids))
    cold_val = np.isin(val_q.queries, cold_rows)
    cf_cold, _ = hybrid.colike_csr(
        hybrid.CoLikes(hybrid.like_matrix(ratings, train_users, movie_ids, cold=cold_ids)),
        hweights.beta, hweights.min_co, fan_prior=hweights.fan_prior)
    w_audience, audience_info = hybrid.choose_audience_weight(
        lambda v: hybrid.HybridScorer(fused, percentile, cf_cold, facets,
                                      replace(hweights, w_audience=v), audience, targets.warm),
        val_q.queries[cold_val], [r for r, k in zip(val_q.relevant, cold_val, strict=True) if k],
        (lambda v: language_check.shares(replace(hweights, w_audience=v))) if len(locale_val) else None)
    if encoder.audience is None:
        w_audience = 0.0
    hweights = replace(hweights, w_audience=w_audience)
    hybrid_info = {**hybrid_info, "audience": {**audience_info, "w_audience": w_audience,
                                               "warm_targets": int(targets.warm.sum()),
                                               "dim": targets.dim}}
    ctx.log.info("audience stand-in: w_audience %s (cold validation NDCG@10 %s)", w_audience,
                 audience_info["cold_val_ndcg@10"])
    cf, counts = hybrid.colike_csr(co, hweights.beta, hweights.min_co, fan_prior=hweights.fan_prior)
    hybrid_files = hybrid.save(out, hweights, cf, counts, {
        **hybrid_info, "train_users": len(train_users), "locale_validation_queries": len(locale_val),
        "rule": "coordinate ascent on validation co-liked NDCG@10; configurations whose served "
                "lists for the non-English validation films share the query's language less than "
                f"{hybrid.LOCALE_TARGET} at mean - {hybrid.LOCALE_MARGIN_SE:g} SE rank below all "
                f"others; the fan prior ({hybrid.FAN_PRIOR_PREFERRED:g}) is kept unless it "
                "costs validation NDCG beyond one paired SE"})
    facet_files = facets.save(out)
    hybrid_seconds = time.perf_counter() - started

    selection = {"rule": RULE, **{k: v for k, v in choice.validation.items()}}
    config = {"weights": weights, "lam": choice.lam, "gamma": choice.gamma,
              "n_candidates": choice.n_candidates, "dim": int(fused.shape[1]),
              "n_trees": index_params.n_trees, "search_k": index_params.search_k,
              "seed": ctx.seed, "per_user": per_user, "co_liked": CO_LIKED, "block_prep": "centred, L2 per block",
              "ratings": str(ctx.ratings_path) if ctx.ratings_path else "",
              "selection": selection}
    (out / CONFIG).write_text(json.dumps(config, indent=2))

    test_sets = ev.query_sets(ratings, movie_ids, test_users, config)
    tables = {name: ev.evaluate_all(blocks, fused, catalog, qs, percentile, choice)
              for name, qs in test_sets.items()}
    hybrid_table = evaluate_hybrid(
        catalog=catalog, ratings=ratings, blocks=blocks, fused=fused, percentile=percentile,
        content_choice=choice, weights=hweights, cf=cf, facets=facets, train_users=train_users,
        test_q=test_sets["co-liked"], seed=ctx.seed, quick=ctx.quick,
        audience=audience, audience_predicted=predicted, audience_warm=targets.warm,
        audience_alternative=best_nonzero_audience(hybrid_info))
    ctx.log.info("hybrid /similar, test users:\n%s", hybrid_table.format())
    # the trained encoder, so catalog updates embed new films with it (none if it was skipped)
    encoder_files = [ENCODER_WEIGHTS] if (out / ENCODER_WEIGHTS).exists() else []
    files = [f"content/{name}" for name in (*BLOCK_FILES.values(), "vocab.json", "labels.json",
                                            *encoder_files,
                                            "ids.npy", "prior.npy", "index.ann", VECTORS, CONFIG,
                                            *hybrid_files, *facet_files,
                                            "audience.npy", "audience_predicted.npy",
                                            "audience_warm.npy", *TFIDF_MODEL_FILES,
                                            METADATA_MODEL)]
    metrics = {**{k: round(v, 4) if isinstance(v, float) else v for k, v in encoder.metrics.items()},
               "index_recall@10": round(index_params.recall_at_10, 4),
               "index_mean_query_ms": round(index_params.mean_query_ms, 4),
               # the served score as scalars, so `moviebot report` charts it across versions
               "test_ndcg@10": round(tables["co-liked"]["fused (served)"]["ndcg@10"], 4),
               "test_ndcg@10_per_user": round(tables["per user"]["fused (served)"]["ndcg@10"], 4),
               "test_hybrid_ndcg@10": round(hybrid_table.rows[
                   "co-liked NDCG@10 (test users) | hybrid (served)"]["value"], 4),
               "eval_hybrid": hybrid_table.rows,
               "eval_test_users": tables["co-liked"],
               "eval_test_users_per_user": tables["per user"]}
    params.update({"fusion": asdict(choice), "fusion_trials": len(tried), "index_trials": trials,
                   "fusion_seconds": round(fusion_seconds, 1), "index_seconds": round(index_seconds, 1),
                   "hybrid": {"weights": asdict(hweights), **hybrid_info},
                   "hybrid_seconds": round(hybrid_seconds, 1),
                   **config})
    return {"files": files, "metrics": metrics, "params": params}

