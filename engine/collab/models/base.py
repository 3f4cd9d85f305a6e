"""What every ranking model offers: fit on interactions, fold a new user in, expose item vectors.

A model never needs to have seen a user: ``user_vector`` builds the user's vector from
their own (item column, signed weight) pairs at request time, so serving and the
held-out-users evaluation run the very same code. ``scores = item_vectors() @ user_vector``
is what the Annoy index approximates (see ``engine/collab/vectors.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp


class RankingModel:
    kind: ClassVar[str] = ""
    #: arrays written by ``save`` and read back by ``load`` (float32 .npy files)
    arrays: ClassVar[tuple[str, ...]] = ()
    #: the arrays among them with one row per item (extended for content-only items)
    item_arrays: ClassVar[tuple[str, ...]] = ("item_factors",)

    def __init__(self, **params):
        self.params = params

    # -- training ----------------------------------------------------------
    def fit(self, X: sp.csr_matrix) -> RankingModel:
        """X: users x items of signed confidences (positive = liked, negative = disliked)."""
        raise NotImplementedError

    # -- serving -----------------------------------------------------------
    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def item_vectors(self) -> np.ndarray:
        raise NotImplementedError

    def rescore(self, idx: np.ndarray, weight: np.ndarray, user: np.ndarray,
                cols: np.ndarray) -> np.ndarray:
        """Final scores of the candidates ``cols`` that Annoy retrieved for this user.
        Default: the same inner products Annoy ranked by; EASE re-scores exactly."""
        return np.asarray(self.item_vectors())[cols] @ user

    def scores(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Exact scores of every item for one user (what Annoy approximates)."""
        return self.item_vectors() @ self.user_vector(idx, weight)

    def explain(self, liked: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """liked x cols: how strongly each liked item points to each recommended one; the
        largest per column becomes "because you liked X". Default: cosine of item vectors."""
        vecs = np.asarray(self.item_vectors())
        a, b = vecs[liked], vecs[cols]
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T

    def scores_batch(self, X: sp.csr_matrix) -> np.ndarray:
        """Exact scores for many folded-in users (rows of X); used by the evaluation."""
        out = np.empty((X.shape[0], X.shape[1]), dtype=np.float32)
        for u in range(X.shape[0]):
            row = X.getrow(u)
            out[u] = self.scores(row.indices, row.data)
        return out

    def extend(self, weights: sp.csr_matrix, shrink: float = 0.5) -> None:
        """Append items the model never saw, each a shrunk blend of warm items' rows.

        ``weights`` is new items x known items (rows sum to 1): their content neighbours.
        Shrinking keeps a film nobody has rated below the rated films it resembles.
        """
        for name in self.item_arrays:
            old = np.asarray(getattr(self, name), dtype=np.float32)
            new = shrink * np.asarray(weights @ old, dtype=np.float32)
            setattr(self, name, np.vstack([old, new]))

    # -- persistence ---------------------------------------------------------
    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        files = []
        for name in self.arrays:
            path = directory / f"{name}.npy"
            np.save(path, np.ascontiguousarray(getattr(self, name), dtype=np.float32))
            files.append(path)
        meta = directory / "model.json"
        meta.write_text(json.dumps({"kind": self.kind, "params": self.params}, indent=2))
        return [*files, meta]

    @classmethod
    def load(cls, directory: Path) -> RankingModel:
        meta = json.loads((directory / "model.json").read_text())
        model = cls(**meta["params"])
        for name in cls.arrays:
            # mmap: several bot processes share one copy of the vectors in the page cache;
            # viewed as a plain ndarray because np.memmap's indexing is slow per request
            arr = np.load(directory / f"{name}.npy", mmap_mode="r")
            setattr(model, name, arr.view(np.ndarray))
        model._loaded()
        return model

    def _loaded(self) -> None:
        """Hook for precomputing small derived arrays after ``load``."""


def positive_part(X: sp.csr_matrix) -> sp.csr_matrix:
    Xp = X.copy()
    Xp.data = np.maximum(Xp.data, 0)
    Xp.eliminate_zeros()
    return Xp
