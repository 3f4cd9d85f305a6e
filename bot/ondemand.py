"""Newer films on demand: a title the catalog does not have, looked up on TMDB.

With ``TMDB_API_KEY`` set, a title that the catalog answers with `NotInCatalog` is searched
on TMDB. If TMDB has it, the user gets an answer at once: an info card from TMDB's record,
and /similar from a content vector computed on the fly (engine/content/foldin.py, via
``MovieQuery.row``). The film is also queued for the next catalog update: one JSON line
``{"title", "tmdb_id", "asked_at"}`` appended to ``<artifacts root>/pending_titles.jsonl``,
which ``moviebot catalog update`` reads and clears.

A film TMDB finds that the catalog already has under another title (by its TMDB id) is
answered from the catalog. Without a key, or when TMDB finds nothing or does not answer,
the catalog's own "not in my catalog (it covers … to …)" answer stands unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import Engine
from engine.artifacts import PENDING_TITLES
from engine.results import Movie
from engine.search import split_year
from engine.tmdb import MalformedRecord, catalog_row, movie_from_row

from .cards import movie_subtitle
from .replies import Button, Card

log = logging.getLogger("moviebot.ondemand")

PENDING = PENDING_TITLES
TMDB_PAGE = "https://www.themoviedb.org/movie/{}"


class TMDBUnavailable(Exception):
    """TMDB did not answer (timeout, outage, bad key): not the same as "TMDB has nothing"."""


@dataclass
class Found:
    """A title the catalog lacked, as TMDB has it: ``row`` is its record in the catalog's
    columns (``engine.tmdb.catalog_row``); ``movie`` the same as a `Movie` (movie_id 0)."""

    movie: Movie
    row: dict


def _norm(title: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", title.casefold()))


def pick(results: list[dict], text: str) -> dict | None:
    """The search result the user meant: an exact title (TMDB's order breaks ties: it ranks
    by popularity), else TMDB's first."""
    if not results:
        return None
    title, _ = split_year(text)
    wanted = _norm(title or text)
    exact = [r for r in results if _norm(str(r.get("title") or "")) == wanted
             or _norm(str(r.get("original_title") or "")) == wanted]
    return (exact or results)[0]


class OnDemand:
    """TMDB lookups for titles past the catalog, and the queue for the next update."""

    def __init__(self, tmdb: Any, root: Path | None = None):
        self.tmdb = tmdb
        self.root = root    # the artifacts root; None: the served version's parent folder
        self._queued: set[tuple[str, int]] = set()   # (root, tmdb id) appended by this process

    async def find(self, engine: Engine, text: str) -> Movie | Found | None:
        """What TMDB has for ``text``: the catalog's own movie when TMDB's film is in it
        (a title spelled another way), else a `Found`; None: TMDB has nothing by that name.
        Raises `TMDBUnavailable` when TMDB does not answer."""
        if self.tmdb is None:
            return None
        title, year = split_year(text)
        results = await self.tmdb.search(title or text, year)
        if not results and year is not None:     # "Dune 2024" for a film TMDB dates 2023
            results = await self.tmdb.search(title or text)
        if results is None:
            raise TMDBUnavailable()
        chosen = pick(results or [], text)
        if chosen is None:
            return None
        return await self.by_tmdb_id(engine, int(chosen["id"]), fallback=chosen)

    async def by_tmdb_id(self, engine: Engine, tmdb_id: int, fallback: dict | None = None
                         ) -> Movie | Found | None:
        """The film with this TMDB id: from the catalog when it has it, else from TMDB's
        details (or, if those fail, the search result ``fallback``)."""
        known = catalog_movie(engine, tmdb_id)
        if known is not None:
            return known
        details = await self.tmdb.details(tmdb_id) if self.tmdb is not None else None
        data = details or fallback
        if not data or not data.get("id"):
            return None
        try:
            # movie_id 0: no catalog id until an update adds it (feedback and buttons must
            # not name an id the served catalog does not know)
            row = {**catalog_row(data), "movie_id": 0}
        except MalformedRecord as exc:
            log.warning("TMDB's record for %s is not a usable film: %s", tmdb_id, exc)
            return None
        return Found(movie_from_row(row), row)

    def queue(self, engine: Engine, found: Found) -> None:
        """Append the film to the next update's list (once per process and film)."""
        root = self.root or Path(engine.version_dir).parent
        key = (str(root), int(found.row["tmdb_id"]))
        if key in self._queued:
            return
        line = json.dumps({"title": found.movie.title, "tmdb_id": key[1],
                           "asked_at": datetime.now(UTC).isoformat(timespec="seconds")},
                          ensure_ascii=False) + "\n"
        try:
            append_line(root / PENDING, line)
        except OSError as exc:   # the answer matters more than the queue
            log.warning("could not queue %s for the next update: %s", found.movie.label, exc)
            return
        self._queued.add(key)


def append_line(path: Path, line: str) -> None:
    """One whole line in one ``write`` on an O_APPEND file, then fsync: concurrent writers
    (several bot processes) never interleave inside a line, and the reader (the update job)
    sees whole lines only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def catalog_movie(engine: Engine, tmdb_id: int) -> Movie | None:
    ids = engine.catalog.df["tmdb_id"]
    hit = engine.catalog.df.index[ids.notna() & (ids == tmdb_id)]
    return engine.movie(int(hit[0])) if len(hit) else None


def ondemand_card(found: Found, coverage: str) -> Card:
    """An info card from TMDB's record. It has no catalog id yet, so none of the buttons
    that need one (👍/👎, More like this, watchlist); /similar with its title works."""
    movie = found.movie
    body = movie.overview or movie.tagline
    facts = []
    if movie.directors:
        facts.append("Director: " + ", ".join(movie.directors[:2]))
    if movie.cast:
        facts.append("Starring: " + ", ".join(movie.cast[:5]))
    if facts:
        body = (body + "\n" if body else "") + " · ".join(facts)
    note = ("New to me: this is TMDB's record, and I've queued the film for my next catalog "
            "update. " + coverage)
    body = (body + "\n" if body else "") + note
    page = TMDB_PAGE.format(movie.tmdb_id)
    buttons = []
    if movie.trailer_url:
        buttons.append(Button("Trailer", url=movie.trailer_url))
    buttons.append(Button("TMDB page", url=page))
    return Card(title=movie.label, subtitle=movie_subtitle(movie, all_genres=True), body=body,
                image_url=movie.poster_url, link_url=movie.trailer_url or page, movie_id=None,
                buttons=buttons)

