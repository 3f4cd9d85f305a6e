"""Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren, Volinsky 2008).

Preference p = 1 for liked cells and 0 elsewhere; confidence c = 1 + alpha*|w|, so a
disliked film is a confident 0 and a 5-star film a confident 1. Each half-step solves
one small ridge regression per user (or item) with the ``Y^T Y + Y_u^T (C_u - I) Y_u``
trick, which is also exactly how a brand-new user is folded in at request time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .base import RankingModel


def _solve_rows(X: sp.csr_matrix, Y: np.ndarray, reg: float, alpha: float) -> np.ndarray:
    """For every row u of X: argmin_x sum_i c_ui (p_ui - x.y_i)^2 + reg |x|^2."""
    f = Y.shape[1]
    YtY = Y.T @ Y + reg * np.eye(f)
    out = np.zeros((X.shape[0], f), dtype=np.float64)
    indptr, indices, data = X.indptr, X.indices, X.data
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            continue
        out[u] = _fold(Y[indices[lo:hi]], data[lo:hi], YtY, alpha)
    return out


def _fold(Yi: np.ndarray, w: np.ndarray, YtY: np.ndarray, alpha: float) -> np.ndarray:
    c = alpha * np.abs(w)                      # extra confidence over the implicit 1
    p = (w > 0).astype(np.float64)
    A = YtY + (Yi.T * c) @ Yi
    b = Yi.T @ ((1.0 + c) * p)
    return np.linalg.solve(A, b)


class ALS(RankingModel):
    kind = "als"
    arrays = ("item_factors", "gram")

    def __init__(self, factors: int = 64, reg: float = 5.0, alpha: float = 10.0,
                 iterations: int = 12, seed: int = 42, **params):
        super().__init__(factors=factors, reg=reg, alpha=alpha, iterations=iterations,
                         seed=seed, **params)

    def fit(self, X: sp.csr_matrix) -> ALS:
        p = self.params
        rng = np.random.default_rng(p["seed"])
        X = X.tocsr().astype(np.float64)
        Xt = X.T.tocsr()
        Y = rng.normal(0, 0.01, (X.shape[1], p["factors"]))
        # thousands of tiny solves: multi-threaded BLAS only adds overhead (5x slower
        # measured on 2 cores), so the loop runs single-threaded
        with threadpool_limits(1, "blas"):
            for _ in range(p["iterations"]):
                U = _solve_rows(X, Y, p["reg"], p["alpha"])
                Y = _solve_rows(Xt, U, p["reg"], p["alpha"])
        self.item_factors = Y.astype(np.float32)
        # Y^T Y of the trained items only: content-imputed items added later must not
        # change what "not watched" means for a folded-in user
        self.gram = (Y.T @ Y).astype(np.float32)
        self._loaded()
        return self

    def _loaded(self) -> None:
        f = self.item_factors.shape[1]
        self._YtY = np.asarray(self.gram, np.float64) + self.params["reg"] * np.eye(f)

    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if len(idx) == 0:
            return np.zeros(self.item_factors.shape[1], dtype=np.float32)
        Yi = np.asarray(self.item_factors[idx], dtype=np.float64)
        return _fold(Yi, np.asarray(weight, np.float64), self._YtY,
                     self.params["alpha"]).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors
