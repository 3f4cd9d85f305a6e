"""`Engine`: the one entry point the CLI, the bots, the jobs and the benchmarks use."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .artifacts import current_version, read_manifest
from .catalog import Catalog
from .errors import ComponentMissing, DataError, TitleCandidate
from .results import Filters, Movie, Recommendations, SongPick

# Component name -> "module:Class". Each class has ``load(dir: Path, catalog: Catalog)``.
# Modules are imported only when the component is first used, so a process that only
# answers /info never loads an index it does not need, and nothing here imports TensorFlow.
COMPONENTS = {
    "content": "engine.content.serving:ContentIndex",
    "collab": "engine.collab.serving:CollabRecommender",
    "crossmedia": "engine.crossmedia.serving:VibeIndex",
}


class Engine:
    def __init__(self, version_dir: Path, manifest: dict[str, Any], catalog: Catalog):
        self.version_dir = version_dir
        self.manifest = manifest
        self.catalog = catalog
        self._components: dict[str, Any] = {}

    @classmethod
    def load(cls, path: str | Path) -> Engine:
        """Open an artifacts directory (its `current` version) or one version directory."""
        version_dir = current_version(Path(path))
        manifest = read_manifest(version_dir)
        catalog = Catalog.load(version_dir)
        return cls(version_dir, manifest, catalog)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.version_dir.name))

    def has(self, component: str) -> bool:
        return component in self.manifest.get("components", {})

    def component(self, name: str) -> Any:
        if name not in self._components:
            if not self.has(name):
                raise ComponentMissing(name)
            module_name, cls_name = COMPONENTS[name].split(":")
            cls = getattr(importlib.import_module(module_name), cls_name)
            try:
                self._components[name] = cls.load(self.version_dir / name, self.catalog)
            except (OSError, ValueError, KeyError) as exc:
                # e.g. a version built by an older release that lacks a file this one reads
                raise DataError(str(self.version_dir / name),
                                f"the {name} files cannot be read ({type(exc).__name__}: {exc})",
                                "rebuild with `moviebot build`") from exc
        return self._components[name]

    # -- titles ---------------------------------------------------------------
    def search(self, text: str, k: int = 5) -> list[TitleCandidate]:
        return self.catalog.search(text, k)

    def resolve(self, movie: str | int | Movie) -> Movie:
        """A movie from a title, an id or a Movie; raises UnknownTitle / AmbiguousTitle."""
        return self.catalog.resolve(movie)

    def movie(self, movie_id: int) -> Movie:
        return self.catalog.movie(movie_id)

    # -- recommenders ---------------------------------------------------------
    def similar(self, movie: str | int | Movie, k: int = 10,
                filters: Filters | None = None) -> Recommendations:
        return self.component("content").similar(self.resolve(movie), k=k, filters=filters)

    def recommend(self, history: Sequence[tuple[int, str | float]], k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        """Personal picks for ANY user from their own (movieId, signal) history.

        A signal is a 0.5-5 rating, or "like" / "dislike".
        """
        return self.component("collab").recommend(history, k=k, filters=filters)

    def song(self, query: str, k: int = 10, filters: Filters | None = None) -> Recommendations:
        return self.component("crossmedia").song(query, k=k, filters=filters)

    def songs_for_movie(self, movie: str | int | Movie, k: int = 10) -> list[SongPick]:
        return self.component("crossmedia").songs_for_movie(self.resolve(movie), k=k)
