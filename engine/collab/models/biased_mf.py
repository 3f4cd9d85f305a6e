"""Biased matrix factorisation for star ratings: r_ui ~ mu + b_u + b_i + p_u . q_i.

Trained by alternating ridge regressions with frequency-weighted regularisation
(ALS-WR, Zhou et al. 2008): a user with many ratings may have a large vector, a user with
three may not. The bias and the factors are solved together by appending a constant 1
to the other side's vectors. Used for RMSE/MAE and for predicted stars, not for ranking.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


def _half_step(R: sp.csr_matrix, other: np.ndarray, other_bias: np.ndarray, mu: float,
               reg: float, reg_bias: float) -> tuple[np.ndarray, np.ndarray]:
    f = other.shape[1]
    aug = np.hstack([np.ones((other.shape[0], 1)), other])        # [1, q_i]
    vecs = np.zeros((R.shape[0], f))
    bias = np.zeros(R.shape[0])
    for u in range(R.shape[0]):
        lo, hi = R.indptr[u], R.indptr[u + 1]
        if lo == hi:
            continue
        idx = R.indices[lo:hi]
        A = aug[idx]
        y = R.data[lo:hi] - mu - other_bias[idx]
        n = hi - lo
        lam = np.full(f + 1, reg * n)
        lam[0] = reg_bias * n
        sol = np.linalg.solve(A.T @ A + np.diag(lam), A.T @ y)
        bias[u], vecs[u] = sol[0], sol[1:]
    return vecs, bias


class BiasedMF:
    kind = "biased_mf"

    def __init__(self, factors: int = 32, reg: float = 0.1, reg_bias: float = 0.01,
                 iterations: int = 15, seed: int = 42):
        self.params = dict(factors=factors, reg=reg, reg_bias=reg_bias,
                           iterations=iterations, seed=seed)

    def fit(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
            n_users: int, n_items: int) -> BiasedMF:
        p = self.params
        rng = np.random.default_rng(p["seed"])
        R = sp.csr_matrix((ratings.astype(np.float64), (users, items)), shape=(n_users, n_items))
        Rt = R.T.tocsr()
        self.mu = float(ratings.mean())
        self.item_vecs = rng.normal(0, 0.1, (n_items, p["factors"]))
        self.item_bias = np.zeros(n_items)
        # thousands of tiny solves: multi-threaded BLAS only adds overhead (5x slower
        # measured on 2 cores), so the loop runs single-threaded
        with threadpool_limits(1, "blas"):
            for _ in range(p["iterations"]):
                self.user_vecs, self.user_bias = _half_step(
                    R, self.item_vecs, self.item_bias, self.mu, p["reg"], p["reg_bias"])
                self.item_vecs, self.item_bias = _half_step(
                    Rt, self.user_vecs, self.user_bias, self.mu, p["reg"], p["reg_bias"])
        return self

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted stars; an index of -1 (unknown user or item) falls back to the biases."""
        users, items = np.asarray(users), np.asarray(items)
        ku, ki = users >= 0, items >= 0
        pred = np.full(len(users), self.mu)
        pred[ku] += self.user_bias[users[ku]]
        pred[ki] += self.item_bias[items[ki]]
        both = ku & ki
        pred[both] += np.einsum("ij,ij->i", self.user_vecs[users[both]], self.item_vecs[items[both]])
        return np.clip(pred, 0.5, 5.0)
