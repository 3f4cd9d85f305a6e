"""Peer libraries as benchmark-only extras (the `bench` extra): `implicit` ALS and
scikit-surprise SVD / SVD++. Imported inside functions; absent libraries are skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .models.base import RankingModel, positive_part


class ImplicitALS(RankingModel):
    """implicit's ALS behind the same fit / fold-in interface as ours."""

    kind = "implicit_als"

    # reg / alpha picked on validation users like ours (docs/collab.md)
    def __init__(self, factors: int = 64, reg: float = 5.0, alpha: float = 1.0,
                 iterations: int = 15, seed: int = 42, **params):
        super().__init__(factors=factors, reg=reg, alpha=alpha, iterations=iterations,
                         seed=seed, **params)

    def fit(self, X: sp.csr_matrix) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = self.params
        with threadpool_limits(1, "blas"):   # implicit threads itself; BLAS threads fight it
            self.lib = AlternatingLeastSquares(factors=p["factors"], regularization=p["reg"],
                                               alpha=p["alpha"], iterations=p["iterations"],
                                               random_state=p["seed"], num_threads=2)
            self.lib.fit(positive_part(X).astype(np.float32), show_progress=False)
        return self

    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        w = np.maximum(np.asarray(weight, np.float32), 0)
        row = sp.csr_matrix((w, (np.zeros(len(idx), int), idx)),
                            shape=(1, self.lib.item_factors.shape[0]))
        return self.lib.recalculate_user(0, row)

    def item_vectors(self) -> np.ndarray:
        return self.lib.item_factors


def surprise_errors(train: pd.DataFrame, test: pd.DataFrame, seed: int,
                    which: tuple[str, ...] = ("SVD", "SVDpp")) -> dict[str, dict[str, float]]:
    """RMSE/MAE of Surprise's SVD / SVD++ (default settings) on the same split."""
    try:
        import surprise
    except ImportError:
        return {}
    import time

    from ..metrics import rating_errors

    data = surprise.Dataset.load_from_df(train[["user", "item", "rating"]],
                                         surprise.Reader(rating_scale=(0.5, 5.0)))
    trainset = data.build_full_trainset()
    out = {}
    for name in which:
        started = time.perf_counter()
        algo = getattr(surprise, name)(random_state=seed).fit(trainset)
        pred = [algo.predict(u, i).est for u, i in zip(test["user"], test["item"], strict=True)]
        out[f"surprise_{name.lower()}"] = {**rating_errors(test["rating"].to_numpy(), np.array(pred)),
                                           "fit_seconds": round(time.perf_counter() - started, 1)}
    return out
