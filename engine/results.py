"""The small typed values the engine returns to every front-end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # queries.py builds on this module
    from .queries import ResolvedQuery

TMDB_IMAGE_BASE = "https://image.tmdb.org/t/p/w500"
YOUTUBE_BASE = "https://www.youtube.com/watch?v="


@dataclass
class Movie:
    """A catalog row, as front-ends see it."""

    movie_id: int
    title: str
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    overview: str = ""
    tagline: str = ""
    keywords: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    runtime: float | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    popularity: float | None = None
    poster_path: str = ""
    youtube_id: str = ""
    imdb_id: str = ""
    tmdb_id: int | None = None
    rating_mean: float | None = None   # MovieLens mean rating
    rating_count: int = 0              # MovieLens number of ratings

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def poster_url(self) -> str:
        return TMDB_IMAGE_BASE + self.poster_path if self.poster_path else ""

    @property
    def trailer_url(self) -> str:
        return YOUTUBE_BASE + self.youtube_id if self.youtube_id else ""

    @property
    def imdb_url(self) -> str:
        return f"https://www.imdb.com/title/{self.imdb_id}/" if self.imdb_id else ""

    def brief(self) -> dict[str, Any]:
        return {"movie_id": self.movie_id, "title": self.title, "year": self.year}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendation:
    movie: Movie
    score: float
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "movie_id": self.movie.movie_id,
            "title": self.movie.title,
            "year": self.movie.year,
            "score": round(float(self.score), 6),
            "reason": self.reason,
        }


@dataclass
class Recommendations:
    """What every recommending call returns: the resolved query and ranked results."""

    query: ResolvedQuery  # typed (engine/queries.py); to_json() keeps the old keys
    results: list[Recommendation]
    kind: str = ""  # "similar", "song", "recommend", ...

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query.to_json(), "results": [r.to_json() for r in self.results]}


@dataclass
class Filters:
    """Optional constraints every recommender honours."""

    year_min: int | None = None
    year_max: int | None = None
    genres: list[str] = field(default_factory=list)  # movie must have at least one
    min_votes: int = 0                               # TMDB vote_count (or ML rating count)

    def accepts(self, movie: Movie) -> bool:
        if self.year_min is not None and (movie.year is None or movie.year < self.year_min):
            return False
        if self.year_max is not None and (movie.year is None or movie.year > self.year_max):
            return False
        if self.genres:
            wanted = {g.lower() for g in self.genres}
            if not wanted & {g.lower() for g in movie.genres}:
                return False
        if self.min_votes:
            votes = max(movie.vote_count or 0, movie.rating_count or 0)
            if votes < self.min_votes:
                return False
        return True

    def is_empty(self) -> bool:
        return self == Filters()


@dataclass
class Song:
    track_id: str
    name: str
    artist: str
    album: str = ""
    year: int | None = None
    popularity: int | None = None
    genres: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} – {self.artist}"

    @property
    def spotify_url(self) -> str:
        return f"https://open.spotify.com/track/{self.track_id}"


@dataclass
class SongPick:
    song: Song
    score: float
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"track_id": self.song.track_id, "name": self.song.name,
                "artist": self.song.artist, "score": round(float(self.score), 6),
                "reason": self.reason}
