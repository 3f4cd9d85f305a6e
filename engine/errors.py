"""Errors that callers turn into friendly chat replies or CLI messages.

Every error carries a message meant for a human; front-ends show ``str(err)`` and never a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class MovieBotError(Exception):
    """Base class: anything with a message safe to show to a user."""


class InvalidInput(MovieBotError):
    """The request itself is malformed (too long, bad number, unknown option...)."""


@dataclass(frozen=True)
class TitleCandidate:
    """One possible reading of a title the user typed."""

    movie_id: int
    title: str
    year: int | None
    confidence: float  # 0..1
    ref: str = ""      # for songs: the Spotify track id (movie_id is 0)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


@dataclass
class UnknownTitle(MovieBotError):
    query: str
    suggestions: list[TitleCandidate] = field(default_factory=list)
    kind: str = "movie"

    def __str__(self) -> str:
        msg = f"I couldn't find a {self.kind} called “{self.query}”."
        if self.suggestions:
            msg += " Did you mean: " + "; ".join(c.label for c in self.suggestions) + "?"
        return msg


@dataclass
class AmbiguousTitle(MovieBotError):
    query: str
    candidates: list[TitleCandidate]
    kind: str = "movie"

    def __str__(self) -> str:
        opts = "; ".join(c.label for c in self.candidates)
        return f"“{self.query}” could be several {self.kind}s: {opts}. Which one?"


@dataclass
class DataError(MovieBotError):
    """A data file is missing or malformed; says which file and how to fix it."""

    path: str
    problem: str
    fix: str = "run `moviebot data fetch` or see README.md, section “Getting the data”"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}. Fix: {self.fix}"


@dataclass
class ComponentMissing(MovieBotError):
    """The loaded artifacts lack a component (e.g. built with an older version)."""

    component: str
    fix: str = "run `moviebot build` to build it"

    def __str__(self) -> str:
        return f"The {self.component} recommender is not built yet; {self.fix}."
