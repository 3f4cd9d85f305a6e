"""The component contract every recommender package implements.

A recommender is a class named in its package's ``SPEC`` (engine/components.py) with::

    name: ClassVar[str]                       # its registry key ("content", "collab", ...)
    load(dir, catalog) -> Self                 # from its folder in a built version
    recommend(query, k=10, filters=None) -> Recommendations
    explain(query, movie) -> str               # the one-line reason for one listed movie

``query`` is the package's typed query value (engine/queries.py). Every recommender checks
``k`` with `check_k` (one rule), finds its files with `engine.artifacts.component_files`
(one error shape), and searches vectors with `engine.retrieval.Retriever`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from .catalog import Catalog
from .errors import InvalidInput
from .results import Filters, Movie, Recommendations

MAX_K = 200  # bots page by asking for (page + 1) * page_size + 1


def check_k(k: int) -> int:
    """The one k rule: an int in 1..MAX_K, else InvalidInput."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"Please ask for between 1 and {MAX_K} results.")
    return k


@runtime_checkable
class Recommender(Protocol):
    name: ClassVar[str]

    @classmethod
    def load(cls, dir: Path, catalog: Catalog) -> Self: ...

    def recommend(self, query: Any, k: int = 10,
                  filters: Filters | None = None) -> Recommendations: ...

    def explain(self, query: Any, movie: Movie) -> str: ...
