"""Typed query values: what a caller asks a recommender, and what it resolved that to.

A request is a small frozen value (`MovieQuery`, `SongQuery`, `HistoryQuery`, `GroupQuery`);
the result's ``Recommendations.query`` is the resolved query (`ResolvedMovie`, `ResolvedSong` /
`ResolvedVibe`, `ResolvedHistory`, `Onboarding`, `ResolvedGroup`), whose ``to_json()`` gives
the JSON keys the CLI and the bots have always printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .results import Filters, Movie

Signal = str | float  # a 0.5-5 rating, or "like" / "dislike" (a group member also "watchlist")


# -- requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MovieQuery:
    """Content: movies like this one; ``exclude``: movie ids never to list (the asker's own
    rated and reacted films)."""

    movie: Movie
    exclude: frozenset[int] = frozenset()
    # A film outside the catalog (TMDB, asked for on demand): its record in the catalog's
    # columns (engine.tmdb.catalog_row); content embeds it on the fly (content/foldin.py).
    row: dict | None = field(default=None, compare=False, hash=False)
    # the user asked for the whole series: no per-director / per-franchise cap, every
    # franchise sibling first (content/hybrid.served_list)
    whole_series: bool = False

    def to_json(self) -> dict[str, Any]:
        return self.movie.brief()


@dataclass(frozen=True)
class SongQuery:
    """Crossmedia: a song (title, "title - artist", Spotify link/id) or "vibe k=v ..."."""

    text: str

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True)
class HistoryQuery:
    """Collab: a user's own (movie_id, signal) history, oldest first."""

    history: tuple[tuple[int, Signal], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, Signal]]) -> HistoryQuery:
        return cls(tuple((int(m), s) for m, s in pairs))

    def to_json(self) -> dict[str, Any]:
        return {"history": [list(p) for p in self.history]}


@dataclass(frozen=True)
class GroupMember:
    """One member of a watch party: a display name (used in reasons: "Ann") and their
    history like `HistoryQuery`'s, oldest first; a signal may also be "watchlist"."""

    name: str
    history: tuple[tuple[int, Signal], ...] = ()

    @classmethod
    def of(cls, name: str, pairs: Iterable[tuple[int, Signal]]) -> GroupMember:
        return cls(str(name), tuple((int(m), s) for m, s in pairs))


@dataclass(frozen=True)
class GroupQuery:
    """Party: films for a group to watch together.

    ``rewatch``: False leaves out films any member has rated; ``fairness``: "least_misery"
    or "proportional" (how the members' benefits are combined, engine/party/aggregate.py),
    "average" (no fairness term, the evaluation's baseline); None: the evaluated default."""

    members: tuple[GroupMember, ...]
    rewatch: bool = False
    fairness: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"members": [{"name": m.name, "history": [list(p) for p in m.history]}
                            for m in self.members],
                "rewatch": self.rewatch, "fairness": self.fairness}


# -- resolved queries (Recommendations.query) ---------------------------------------------
def filters_json(filters: Filters | None) -> dict[str, Any]:
    if filters is None or filters.is_empty():
        return {}
    return {"filters": {key: value for key, value in vars(filters).items() if value}}


@dataclass(frozen=True)
class ResolvedMovie:
    movie: Movie
    filters: Filters | None = None

    @property
    def movie_id(self) -> int:
        return self.movie.movie_id

    def to_json(self) -> dict[str, Any]:
        return {**self.movie.brief(), **filters_json(self.filters)}


@dataclass(frozen=True)
class ResolvedSong:
    song: str
    artist: str
    track_id: str
    mood: str

    @property
    def label(self) -> str:
        return f"{self.song} – {self.artist}" if self.artist else self.song

    def to_json(self) -> dict[str, Any]:
        return {"song": self.song, "artist": self.artist, "track_id": self.track_id,
                "mood": self.mood}


@dataclass(frozen=True)
class ResolvedVibe:
    vibe: dict[str, float]
    mood: str

    @property
    def label(self) -> str:
        return "the vibe " + " ".join(f"{k}={v:g}" for k, v in self.vibe.items())

    def to_json(self) -> dict[str, Any]:
        return {"vibe": self.vibe, "mood": self.mood}


@dataclass(frozen=True)
class ResolvedHistory:
    history: int                 # signals given
    known: int                   # of which in the catalog
    unknown_ids: list[int]
    model: str
    cold_start: bool
    onboarding: list[dict[str, Any]] | None = None  # cold start: films to rate first

    def to_json(self) -> dict[str, Any]:
        out = {"history": self.history, "known": self.known, "unknown_ids": self.unknown_ids,
               "model": self.model, "cold_start": self.cold_start}
        if self.onboarding is not None:
            out["onboarding"] = self.onboarding
        return out


@dataclass(frozen=True)
class Onboarding:
    def to_json(self) -> dict[str, Any]:
        return {"onboarding": True}


@dataclass
class ResolvedGroup:
    """What a party request resolved to (``Recommendations.query`` for kind="party")."""

    members: tuple[str, ...]
    relaxed_veto: bool = False   # True when no film passed the veto and it was relaxed
    note: str = ""               # a sentence for the group when relaxed_veto (or nothing fits)
    fairness: str = ""           # the aggregation used
    rewatch: bool = False
    unknown_ids: list[int] = field(default_factory=list)   # ids not in the catalog, ignored

    def to_json(self) -> dict[str, Any]:
        return {"members": list(self.members), "relaxed_veto": self.relaxed_veto,
                "note": self.note, "fairness": self.fairness, "rewatch": self.rewatch,
                "unknown_ids": self.unknown_ids}


ResolvedQuery = (ResolvedMovie | ResolvedSong | ResolvedVibe | ResolvedHistory | Onboarding
                 | ResolvedGroup)
