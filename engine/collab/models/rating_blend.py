"""The star-rating predictor: the plain average of biased MF and item kNN-baseline.

The two err in different places (global factors vs. local neighbourhoods), so their mean
beats both; equal weights need no extra held-out data to fit (see docs/collab.md).
"""

from __future__ import annotations

import numpy as np

from .biased_mf import BiasedMF
from .knn_baseline import KNNBaseline


class RatingBlend:
    kind = "mf+knn_blend"

    def __init__(self, factors: int = 32, iterations: int = 15, k: int = 40):
        self.mf = BiasedMF(factors=factors, iterations=iterations)
        self.knn = KNNBaseline(k=k)
        self.params = {"mf": self.mf.params, "knn": self.knn.params}

    def fit(self, users, items, ratings, n_users, n_items) -> RatingBlend:
        self.mf.fit(users, items, ratings, n_users, n_items)
        self.knn.fit(users, items, ratings, n_users, n_items)
        return self

    def predict_parts(self, users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        mf, knn = self.mf.predict(users, items), self.knn.predict(users, items)
        return {"biased_mf": mf, "knn_baseline": knn, self.kind: 0.5 * (mf + knn)}

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.predict_parts(users, items)[self.kind]
