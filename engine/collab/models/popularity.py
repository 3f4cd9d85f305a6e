"""Most-liked-first: the baseline every personal model must beat."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import RankingModel


class Popularity(RankingModel):
    kind = "popularity"
    arrays = ("item_factors",)

    def fit(self, X: sp.csr_matrix) -> Popularity:
        likes = np.asarray((X > 0).sum(axis=0)).ravel()
        self.item_factors = np.log1p(likes).astype(np.float32)[:, None]
        return self

    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return np.ones(1, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors
