"""`Engine`: the one entry point the CLI, the bots, the jobs and the benchmarks use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifacts import current_version, read_manifest
from .catalog import Catalog
from .components import component as component_spec
from .errors import ComponentMissing, DataError, MovieBotError, TitleCandidate
from .recommender import Recommender
from .results import Filters, Movie, Recommendations
from .spec import load_target

if TYPE_CHECKING:
    from .party.serving import PartyRecommender
    from .queries import GroupMember, GroupQuery


class Engine:
    """A loaded artifacts version: the catalog, and each recommender on first use.

    Recommenders come from the registry (engine/components.py); their serving modules are
    imported only when first used, so a process that only answers /info never loads an
    index it does not need, and nothing here imports TensorFlow.
    """

    def __init__(self, version_dir: Path, manifest: dict[str, Any], catalog: Catalog):
        self.version_dir = version_dir
        self.manifest = manifest
        self.catalog = catalog
        self._recommenders: dict[str, Recommender] = {}
        self._party: PartyRecommender | None = None

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

    def recommender(self, name: str) -> Any:
        """The loaded recommender registered as ``name`` ("content", "collab", ...)."""
        if name not in self._recommenders:
            spec = component_spec(name)  # KeyError: not a registered recommender
            if not self.has(name):
                raise ComponentMissing(name)
            cls = load_target(spec.serving)
            try:
                self._recommenders[name] = cls.load(self.version_dir / name, self.catalog)
            except MovieBotError:
                raise
            except (OSError, ValueError, KeyError) as exc:
                # e.g. a version built by an older release that lacks a file this one reads
                raise DataError(str(self.version_dir / name),
                                f"the {name} files cannot be read ({type(exc).__name__}: {exc})",
                                f"run `moviebot build --only {name}`") from exc
        return self._recommenders[name]

    def recommend(self, name: str, query: Any, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        """``recommender(name).recommend(query, k, filters)``; ``query`` is the typed
        query value of that recommender (engine/queries.py)."""
        return self.recommender(name).recommend(query, k=k, filters=filters)

    def song(self, query: Any, k: int = 10, filters: Filters | None = None,
             featured: bool = True) -> Recommendations:
        """Movies for a song (a SongQuery or the text a user typed). ``featured`` puts the
        films whose soundtrack credits the song first; ``featured=False`` is the vibe model
        alone, as evaluation uses it. ``k`` may be up to the catalog size."""
        from .queries import SongQuery

        if not isinstance(query, SongQuery):
            query = SongQuery(str(query))
        return self.recommender("crossmedia").rank(query, k=k, filters=filters,
                                                   featured=featured)

    # -- groups ----------------------------------------------------------------
    def party(self) -> PartyRecommender:
        """The group recommender, composed from this version's collab and (when built)
        content recommenders; it has no artifacts of its own (engine/party/__init__.py)."""
        if self._party is None:
            from .party.serving import PartyRecommender

            content = self.recommender("content") if self.has("content") else None
            self._party = PartyRecommender(self.recommender("collab"), content, self.catalog)
        return self._party

    def group_recommend(self, members: Sequence[GroupMember] | GroupQuery, k: int = 5,
                        filters: Filters | None = None) -> Recommendations:
        """Films for a group (kind="party"): each member folded into the collaborative
        space, a veto for films anyone disliked or rated <= 2, films anyone rated left out
        unless ``GroupQuery.rewatch``, a fairness term; ``results[i].reason`` is a sentence
        the group reads ("Ann and Bo love sci-fi films like Alien; nobody has seen it")."""
        return self.party().recommend(members, k=k, filters=filters)

    def group_onboarding(self, k: int = 8) -> list[Movie]:
        """Well-known, varied films a member with no history picks favourites from."""
        return self.party().onboarding(k)

    # -- titles ---------------------------------------------------------------
    def search(self, text: str, k: int = 5) -> list[TitleCandidate]:
        return self.catalog.search(text, k)

    def resolve(self, movie: str | int | Movie) -> Movie:
        """A movie from a title, an id or a Movie; raises UnknownTitle / AmbiguousTitle."""
        return self.catalog.resolve(movie)

    def movie(self, movie_id: int) -> Movie:
        return self.catalog.movie(movie_id)
