"""EASE (Steck 2019): a closed-form item-item linear model, the strong linear baseline.

B = I - P / diag(P) with P = (X^T X + lambda I)^-1 and diag(B) = 0. A user's scores are
x @ B. To serve it from Annoy, B is factorised once as B ~ (U S) V^T (truncated SVD):
the user vector is x @ (U S) and the item vectors are the rows of V. The factorisation
alone cost 0-4 % NDCG@10 depending on the split, so B itself is kept too (``exact_b``,
memory-mapped): Annoy retrieves candidates with the factorised vectors and ``rescore``
ranks them with the exact x @ B. ``exact_index`` maps model columns to B's rows (-1 for
content-only films added by ``extend``, which keep their factorised score).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import RankingModel, positive_part


class EASE(RankingModel):
    kind = "ease"
    arrays = ("user_side", "item_factors", "exact_b", "exact_index")
    item_arrays = ("user_side", "item_factors", "exact_index")

    def __init__(self, reg: float = 300.0, rank: int = 256, binary: bool = True,
                 seed: int = 42, **params):
        super().__init__(reg=reg, rank=rank, binary=binary, seed=seed, **params)
        self.exact_b: np.ndarray | None = None

    def _input(self, X: sp.csr_matrix) -> sp.csr_matrix:
        Xp = positive_part(X)
        if self.params["binary"]:
            Xp.data[:] = 1.0
        return Xp

    def fit(self, X: sp.csr_matrix) -> EASE:
        Xp = self._input(X).astype(np.float64)
        G = (Xp.T @ Xp).toarray()
        G[np.diag_indices_from(G)] += self.params["reg"]
        P = np.linalg.inv(G)
        B = P / (-np.diag(P))
        B[np.diag_indices_from(B)] = 0.0
        self.exact_b = B.astype(np.float32)
        self.exact_index = np.arange(B.shape[0], dtype=np.float32)  # float32: saved like the rest
        self._factorise()
        return self

    def _factorise(self) -> None:
        from sklearn.utils.extmath import randomized_svd

        rank = min(self.params["rank"], self.exact_b.shape[0] - 1)
        U, S, Vt = randomized_svd(self.exact_b, rank, n_iter=4, random_state=self.params["seed"])
        self.user_side = (U * S).astype(np.float32)
        self.item_factors = Vt.T.astype(np.float32)

    def _x(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        w = np.asarray(weight, dtype=np.float32)
        return np.sign(w) if self.params["binary"] else w

    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return self._x(idx, weight) @ np.asarray(self.user_side[idx])

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def explain(self, liked: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # (U S)_i . V_j ~ B_ij: exactly how much liking i adds to j's score
        return np.asarray(self.user_side[liked]) @ np.asarray(self.item_factors[cols]).T

    def extend(self, weights: sp.csr_matrix, shrink: float = 0.5) -> None:
        for name in ("user_side", "item_factors"):
            old = np.asarray(getattr(self, name), dtype=np.float32)
            setattr(self, name, np.vstack([old, shrink * np.asarray(weights @ old, np.float32)]))
        self.exact_index = np.concatenate(
            [np.asarray(self.exact_index), np.full(weights.shape[0], -1, np.float32)])

    def rescore(self, idx: np.ndarray, weight: np.ndarray, user: np.ndarray,
                cols: np.ndarray) -> np.ndarray:
        out = super().rescore(idx, weight, user, cols)
        if self.exact_b is None:
            return out
        rows = np.asarray(self.exact_index)[idx].astype(np.int64)
        cand = np.asarray(self.exact_index)[cols].astype(np.int64)
        h, c = rows >= 0, cand >= 0
        if h.any() and c.any():
            block = self.exact_b[np.ix_(rows[h], cand[c])]
            out[c] = self._x(idx, weight)[h] @ block
        return out

    def _identity(self) -> bool:
        """B's rows are the model's columns (true right after ``fit``)."""
        return self.exact_b is not None and len(self.exact_b) == len(self.item_factors)

    def scores(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if not self._identity():
            return super().scores(idx, weight)
        return self._x(idx, weight) @ self.exact_b[idx]

    def scores_batch(self, X: sp.csr_matrix) -> np.ndarray:
        if not self._identity():
            return super().scores_batch(X)
        Xw = X.copy().astype(np.float32)
        Xw.data = self._x(Xw.indices, Xw.data)
        return np.asarray(Xw @ self.exact_b, dtype=np.float32)
