"""Fit the shared vibe space from soundtrack pairs (numpy + scipy; no TensorFlow needed).

The model is bilinear, ``score(s, m) = s~^T W m~`` (``~`` = with a constant 1 appended),
trained with a full softmax over every training movie: for each (song, movie) soundtrack
pair, the movie should out-score all other movies for that song. That is exactly the
question the eval asks ("where does the true movie rank?"), so the loss and the metric
agree. ``W`` is then cut to rank ``dim`` by SVD, which gives the two projections.

Movies with ``movie_id % 5 == 0`` are the TEST fold: ``fit_space`` refuses pairs that
touch them, never uses them as negatives, and tuning holds out ``movie_id % 5 == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..metrics import hits_from_ranks
from .space import VibeSpace, with_bias


class FoldLeak(ValueError):
    """Training was handed a pair or movie from the held-out test fold."""


def is_test_movie(movie_id) -> np.ndarray | bool:
    return np.asarray(movie_id) % 5 == 0


def is_valid_movie(movie_id) -> np.ndarray | bool:
    """The tuning fold, carved out of the training movies."""
    return np.asarray(movie_id) % 5 == 1


@dataclass
class FitParams:
    l2: float = 1.0          # ridge on the song x movie interaction rows of W
    l2_prior: float | None = None  # ridge on the last row (the per-movie prior); None: = l2.
                                   # Weaker values (3, 30 with l2=300) lost 1-4 points of
                                   # tuning-fold HR@50, so one penalty for all is the default
    dim: int = 24            # rank kept for the shared space
    max_iter: int = 300
    seed: int = 42


def _softmax_loss(w_flat, S, M, pos_idx, l2_rows, shape):
    W = w_flat.reshape(shape)
    SW = S @ W                                   # (pairs, movie_features)
    logits = SW @ M.T                            # (pairs, movies)
    logits -= logits.max(axis=1, keepdims=True)
    expd = np.exp(logits)
    Z = expd.sum(axis=1, keepdims=True)
    P = expd / Z
    n = len(S)
    reg = l2_rows[:, None] * W
    loss = -(logits[np.arange(n), pos_idx] - np.log(Z[:, 0])).mean() + 0.5 * (reg * W).sum()
    P[np.arange(n), pos_idx] -= 1.0
    grad = S.T @ (P @ M) / n + reg
    return loss, grad.ravel()


def fit_bilinear(song_x: np.ndarray, movie_x: np.ndarray, pos_idx: np.ndarray,
                 params: FitParams) -> np.ndarray:
    """W for songs ``song_x`` (one row per pair) whose movie is row ``pos_idx`` of ``movie_x``."""
    S, M = with_bias(song_x).astype(np.float64), with_bias(movie_x).astype(np.float64)
    shape = (S.shape[1], M.shape[1])
    w0 = np.random.default_rng(params.seed).normal(0, 1e-3, size=shape).ravel()
    # penalties per pair, so l2 means the same with more or fewer soundtrack pairs
    l2_rows = np.full(shape[0], params.l2 / len(S))
    l2_rows[-1] = (params.l2 if params.l2_prior is None else params.l2_prior) / len(S)
    result = minimize(_softmax_loss, w0, args=(S, M, pos_idx, l2_rows, shape),
                      jac=True, method="L-BFGS-B", options={"maxiter": params.max_iter})
    return result.x.reshape(shape)


def factorise(W: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A, B with A @ B.T the best rank-``dim`` approximation of W."""
    U, sing, Vt = np.linalg.svd(W, full_matrices=False)
    dim = min(dim, len(sing))
    root = np.sqrt(sing[:dim])
    return (U[:, :dim] * root).astype(np.float32), (Vt[:dim].T * root).astype(np.float32)


def fit_space(song_x: np.ndarray, pair_movie_ids: np.ndarray, movie_feats: pd.DataFrame,
              params: FitParams, exclude_valid: bool = False) -> VibeSpace:
    """Learn the space from pairs (row i of ``song_x`` is in movie ``pair_movie_ids[i]``).

    ``movie_feats`` is indexed by movie_id; only its non-test movies are used.
    """
    pair_movie_ids = np.asarray(pair_movie_ids, dtype=np.int64)
    if is_test_movie(pair_movie_ids).any():
        raise FoldLeak("soundtrack pairs from the test fold (movie_id % 5 == 0) "
                           "must never reach training")
    ids = movie_feats.index.to_numpy()
    keep = ~is_test_movie(ids)
    if exclude_valid:
        keep &= ~is_valid_movie(ids)
    train_movies = movie_feats[keep]
    row_of = {int(m): i for i, m in enumerate(train_movies.index)}
    mask = np.array([int(m) in row_of for m in pair_movie_ids])
    pos_idx = np.array([row_of[int(m)] for m in pair_movie_ids[mask]], dtype=np.int64)
    W = fit_bilinear(song_x[mask], train_movies.to_numpy(np.float32), pos_idx, params)
    A, B = factorise(W, params.dim)
    return VibeSpace(A, B, list(movie_feats.columns),
                     {"l2": params.l2, "l2_prior": params.l2_prior, "dim": int(A.shape[1]), "pairs": int(mask.sum()),
                      "train_movies": int(len(train_movies))})


def ranks_of(space: VibeSpace, song_x: np.ndarray, pair_movie_ids: np.ndarray,
             movie_feats: pd.DataFrame) -> np.ndarray:
    """1-based rank of each pair's movie among all movies in ``movie_feats`` (ties: pessimistic)."""
    movie_emb = space.embed_movies(movie_feats.to_numpy(np.float32))
    scores = space.embed_songs(song_x) @ movie_emb.T
    return rank_in(scores, movie_feats.index.to_numpy(), pair_movie_ids)


def rank_in(scores: np.ndarray, movie_ids: np.ndarray, pair_movie_ids: np.ndarray) -> np.ndarray:
    col = {int(m): i for i, m in enumerate(movie_ids)}
    idx = np.array([col[int(m)] for m in pair_movie_ids])
    true = scores[np.arange(len(idx)), idx]
    return (scores >= true[:, None]).sum(axis=1)


def tune(song_x: np.ndarray, pair_movie_ids: np.ndarray, movie_feats: pd.DataFrame,
         grid: list[FitParams]) -> tuple[FitParams, list[dict]]:
    """Pick the params with the best HR@50 on the tuning fold (movie_id % 5 == 1).

    Trains on training pairs outside the tuning fold; the test fold is not touched
    (fit_space refuses it, and it is dropped from the candidate movies here too).
    """
    pair_movie_ids = np.asarray(pair_movie_ids)
    if is_test_movie(pair_movie_ids).any():
        raise FoldLeak("tuning must not see test-fold pairs")
    valid = is_valid_movie(pair_movie_ids)
    candidates = movie_feats[~is_test_movie(movie_feats.index.to_numpy())]
    log = []
    best, best_hr = grid[0], -1.0
    for params in grid:
        space = fit_space(song_x[~valid], pair_movie_ids[~valid], movie_feats, params,
                          exclude_valid=True)
        ranks = ranks_of(space, song_x[valid], pair_movie_ids[valid], candidates)
        hr = float(hits_from_ranks(ranks, 50).any(axis=1).mean()) if len(ranks) else 0.0
        log.append({"l2": params.l2, "l2_prior": params.l2_prior, "dim": params.dim,
                    "valid_hr50": round(hr, 4),
                    "valid_pairs": int(valid.sum())})
        if hr > best_hr:
            best, best_hr = params, hr
    return best, log
