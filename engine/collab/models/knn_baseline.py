"""Item-based kNN on baseline residuals (Koren 2008 / Surprise's KNNBaseline), vectorised.

r_ui ~ b_ui + sum_j s_ij (r_uj - b_uj) / sum_j |s_ij| over the k films j rated by u that
are most similar to i, with s_ij the shrunk Pearson-baseline correlation over co-raters.
It errs differently from matrix factorisation, which is why blending the two helps.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def baselines(users, items, ratings, n_users, n_items, reg_u=15.0, reg_i=10.0, iters=10):
    mu = float(ratings.mean())
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    for _ in range(iters):
        bi = np.bincount(items, ratings - mu - bu[users], n_items) / (reg_i + np.bincount(items, minlength=n_items))
        bu = np.bincount(users, ratings - mu - bi[items], n_users) / (reg_u + np.bincount(users, minlength=n_users))
    return mu, bu, bi


class KNNBaseline:
    kind = "knn_baseline"

    def __init__(self, k: int = 40, shrink: float = 100.0, block: int = 1024):
        self.params = dict(k=k, shrink=shrink, block=block)

    def fit(self, users, items, ratings, n_users, n_items) -> KNNBaseline:
        users, items = np.asarray(users), np.asarray(items)
        ratings = np.asarray(ratings, np.float64)
        self.mu, self.bu, self.bi = baselines(users, items, ratings, n_users, n_items)
        z = ratings - self.mu - self.bu[users] - self.bi[items]
        self.Z = sp.csc_matrix((z, (users, items)), shape=(n_users, n_items))
        self.R = sp.csr_matrix((ratings, (users, items)), shape=(n_users, n_items))
        self.Zr = self.Z.tocsr()
        return self

    def _similarity(self, cols: np.ndarray) -> np.ndarray:
        """Shrunk Pearson-baseline similarity of films ``cols`` to every film."""
        Z, B = self.Z, (self.Z != 0).astype(np.float64)
        Zc, Bc = Z[:, cols], B[:, cols]
        num = (Zc.T @ Z).toarray()
        sq_c = (Zc.multiply(Zc)).T @ B          # sum over co-raters of z_ui^2
        sq_o = (Bc.T @ Z.multiply(Z)).toarray()  # sum over co-raters of z_uj^2
        n = (Bc.T @ B).toarray()
        den = np.sqrt(sq_c.toarray() * sq_o)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim = np.where(den > 0, num / den, 0.0)
        return sim * (n - 1).clip(0) / ((n - 1).clip(0) + self.params["shrink"])

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users), np.asarray(items)
        pred = np.full(len(users), self.mu)
        ku, ki = users >= 0, items >= 0
        pred[ku] += self.bu[users[ku]]
        pred[ki] += self.bi[items[ki]]
        both = np.flatnonzero(ku & ki)
        k, block = self.params["k"], self.params["block"]
        cols = np.unique(items[both])
        for start in range(0, len(cols), block):
            part = cols[start:start + block]
            sim = self._similarity(part)
            row_of = {c: r for r, c in enumerate(part)}
            for t in both[np.isin(items[both], part)]:
                u, i = users[t], items[t]
                lo, hi = self.Zr.indptr[u], self.Zr.indptr[u + 1]
                rated, resid = self.Zr.indices[lo:hi], self.Zr.data[lo:hi]
                s = sim[row_of[i], rated]
                if len(s) > k:
                    top = np.argpartition(-s, k - 1)[:k]
                    s, resid = s[top], resid[top]
                s_pos = np.maximum(s, 0)          # as Surprise: only positive neighbours count
                if s_pos.sum() > 0:
                    pred[t] += (s_pos * resid).sum() / s_pos.sum()
        return np.clip(pred, 0.5, 5.0)
