"""Maximum-inner-product search with Annoy, via the extra-dimension transform.

Annoy only knows angular / euclidean distance. Bachrach et al. (2014): give every item
vector q an extra coordinate sqrt(M^2 - |q|^2), where M is the largest item norm, so all
items have norm M; a query [u, 0] then ranks items by angle exactly as by u.q. The
index file is memory-mapped (``prefault=False``) so bot processes share it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

METRIC = "angular"


def candidates(k: int, seen: int) -> int:
    """How many films to ask Annoy for: enough to survive dropping the user's own films
    and filters, and for a model that re-scores exactly (EASE) to re-rank."""
    return 4 * k + 10 + seen


def augment(items: np.ndarray) -> np.ndarray:
    items = np.asarray(items, dtype=np.float64)
    norms = np.linalg.norm(items, axis=1)
    extra = np.sqrt(np.maximum(norms.max() ** 2 - norms ** 2, 0.0))
    return np.hstack([items, extra[:, None]]).astype(np.float32)


class VectorIndex:
    def __init__(self, index: AnnoyIndex, dim: int, search_k: int):
        self.index, self.dim, self.search_k = index, dim, search_k

    @classmethod
    def build(cls, items: np.ndarray, path: Path | None = None, trees: int = 50,
              seed: int = 42, search_k: int = -1) -> VectorIndex:
        aug = augment(items)
        index = AnnoyIndex(aug.shape[1], METRIC)
        index.set_seed(seed)
        for i, vec in enumerate(aug):
            index.add_item(i, vec)
        index.build(trees, n_jobs=1)
        if path is not None:
            index.save(str(path))
        return cls(index, aug.shape[1], search_k)

    @classmethod
    def load(cls, path: Path, dim: int, search_k: int = -1) -> VectorIndex:
        index = AnnoyIndex(dim, METRIC)
        index.load(str(path), prefault=False)
        return cls(index, dim, search_k)

    def query(self, user_vector: np.ndarray, n: int) -> list[int]:
        """The n items with the largest inner product with ``user_vector`` (approximately)."""
        q = np.append(np.asarray(user_vector, dtype=np.float32), 0.0)
        if not np.any(q):
            return []
        return self.index.get_nns_by_vector(q, n, search_k=self.search_k)

    def __len__(self) -> int:
        return self.index.get_n_items()
