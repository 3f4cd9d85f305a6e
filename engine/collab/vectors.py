"""Maximum-inner-product search for the collab item vectors: the shared `Retriever` with
the extra-dimension (MIPS) transform as a build option (see engine/retrieval.py).

``VectorIndex`` keeps the name the evaluators use (``VectorIndex.build(items, path, ...)``,
``.query(vec, n)``, ``.search_k``); it is a `Retriever`, not a second Annoy wrapper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..retrieval import Retriever, augment

__all__ = ["VectorIndex", "augment", "candidates"]


def candidates(k: int, seen: int) -> int:
    """How many films to ask Annoy for: enough to survive dropping the user's own films
    and filters, and for a model that re-scores exactly (EASE) to re-rank."""
    return 4 * k + 10 + seen


class VectorIndex(Retriever):
    @classmethod
    def build(cls, items: np.ndarray, path: Path | None = None, trees: int = 50,
              seed: int = 42, search_k: int = -1) -> VectorIndex:
        index = super().build(items, "angular", trees=trees, seed=seed, mips=True,
                              search_k=search_k, ties="row")
        if path is not None:
            index.save(path)
        return index

    @classmethod
    def load(cls, path: Path, dim: int, search_k: int = -1,
             vectors: np.ndarray | None = None, exact_max: int = 0) -> VectorIndex:
        return super().load(path, dim, "angular", vectors=False if vectors is None else vectors,
                            search_k=search_k, mips=True, ties="row", exact_max=exact_max)
