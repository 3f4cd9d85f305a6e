"""Optional live enrichment from the TMDB v3 API (poster, cast, trailer, vote average).

Only used when ``TMDB_API_KEY`` is set; without it cards use the dataset's own fields.
The bot must answer quickly even when TMDB is slow or down, so every call has a short
timeout and any failure just means "no enrichment" (the dataset values stay). Results
are cached (TMDB data changes slowly) and requests are spaced to stay under TMDB's
rate limit; a 429 is honoured once via its Retry-After header.

    client = TMDBClient(api_key)
    movie = await client.enrich(movie)     # a copy with live fields filled in
    await client.close()

Titles past the catalog and where to watch (bot/ondemand.py, bot/watch.py) use
``search``, ``details`` and ``watch_providers``, with the same timeout, pacing, cache and
Retry-After rule; ``catalog_row`` turns TMDB's record into the catalog's columns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import aiohttp

from engine.catalog import TMDB_ID_BASE
from engine.datasets import hygiene as hy
from engine.results import Movie

log = logging.getLogger("moviebot.tmdb")

DEFAULT_BASE = "https://api.themoviedb.org/3"


@dataclass
class TMDBMovie:
    tmdb_id: int
    poster_path: str = ""
    vote_average: float | None = None
    vote_count: int | None = None
    overview: str = ""
    cast: list[str] = field(default_factory=list)
    youtube_id: str = ""      # the official trailer, when TMDB lists one


class TMDBClient:
    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE, timeout: float = 3.0,
                 requests_per_second: float = 20.0, cache_size: int = 5000,
                 cache_ttl: float = 24 * 3600.0, language: str = "en-US"):
        if not api_key:
            raise ValueError("TMDBClient needs an API key (TMDB_API_KEY)")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.min_interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self.cache_size, self.cache_ttl, self.language = cache_size, cache_ttl, language
        self._cache: OrderedDict[int, tuple[float, TMDBMovie | None]] = OrderedDict()
        self._inflight: dict[int, asyncio.Future] = {}
        self._json_cache: OrderedDict[tuple, tuple[float, dict | None]] = OrderedDict()
        self._json_inflight: dict[tuple, asyncio.Future] = {}
        self._pace = asyncio.Lock()
        self._next_slot = 0.0
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0          # HTTP requests made (for tests and /stats)

    def __repr__(self) -> str:  # the key must never reach a log line
        return f"TMDBClient(base_url={self.base_url!r}, key=***)"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _auth(self) -> tuple[dict, dict]:
        # v4 "read access tokens" are JWTs sent as a bearer token; v3 keys go in the query.
        if self._api_key.startswith("eyJ"):
            return {"Authorization": f"Bearer {self._api_key}"}, {}
        return {}, {"api_key": self._api_key}

    async def movie(self, tmdb_id: int) -> TMDBMovie | None:
        """Live details for one TMDB id; None when TMDB does not know it or cannot be reached."""
        now = time.monotonic()
        hit = self._cache.get(tmdb_id)
        if hit and now - hit[0] < self.cache_ttl:
            self._cache.move_to_end(tmdb_id)
            return hit[1]
        if tmdb_id in self._inflight:      # ten cards asking for one movie share one request
            return await asyncio.shield(self._inflight[tmdb_id])
        future = asyncio.get_running_loop().create_future()
        self._inflight[tmdb_id] = future
        try:
            result, cacheable = await self._fetch(tmdb_id)
            if cacheable:
                self._cache[tmdb_id] = (time.monotonic(), result)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            future.set_result(result)
            return result
        finally:
            if not future.done():
                future.set_result(None)
            del self._inflight[tmdb_id]

    async def enrich(self, movie: Movie) -> Movie:
        """A copy of ``movie`` with live TMDB fields where TMDB has them."""
        if not movie.tmdb_id:
            return movie
        live = await self.movie(int(movie.tmdb_id))
        if live is None:
            return movie
        return replace(
            movie,
            poster_path=live.poster_path or movie.poster_path,
            vote_average=live.vote_average if live.vote_average is not None else movie.vote_average,
            vote_count=live.vote_count if live.vote_count is not None else movie.vote_count,
            overview=movie.overview or live.overview,
            cast=live.cast or movie.cast,
            youtube_id=live.youtube_id or movie.youtube_id,
        )

    async def _wait_turn(self) -> None:
        async with self._pace:
            now = time.monotonic()
            delay = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.min_interval
        if delay > 0:
            await asyncio.sleep(delay)

    async def _fetch(self, tmdb_id: int) -> tuple[TMDBMovie | None, bool]:
        """(details, cacheable): a 404 is a cacheable answer, a timeout is not."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers, params = self._auth()
        params = {**params, "append_to_response": "videos,credits", "language": self.language}
        url = f"{self.base_url}/movie/{tmdb_id}"
        for attempt in range(2):
            await self._wait_turn()
            self.requests += 1
            try:
                async with self._session.get(url, params=params, headers=headers) as resp:
                    if resp.status == 429 and attempt == 0:
                        await asyncio.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))
                        continue
                    if resp.status == 404:
                        return None, True
                    if resp.status != 200:
                        log.info("TMDB answered %s for movie %s", resp.status, tmdb_id)
                        return None, False
                    return parse_movie(await resp.json()), True
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                log.info("TMDB unavailable for movie %s: %s", tmdb_id, type(exc).__name__)
                return None, False
        return None, False


    # -- on demand and where to watch (issue 18, part B) -------------------------------
    # Search and watch providers answer a chat message: like `movie`, every call has the
    # client's short timeout, the same pacing and one Retry-After wait, and any failure is
    # "no answer" (None), never an exception a chat could see.
    async def search(self, query: str, year: int | None = None) -> list[dict] | None:
        """TMDB's movie search, best match first (its own order); None: TMDB unreachable."""
        params = {"query": query, "include_adult": "false", "language": self.language, "page": "1"}
        if year is not None:
            params["year"] = str(year)
        key = ("search", query.casefold(), year)
        data = await self._cached_json(key, "/search/movie", params)
        if data is None:
            return None
        return [r for r in data.get("results") or [] if isinstance(r, dict) and r.get("id")]

    async def details(self, tmdb_id: int) -> dict | None:
        """One movie with credits, keywords and videos (what an on-demand card and its content
        vector need); None when TMDB does not know it or cannot be reached."""
        params = {"append_to_response": "credits,keywords,videos", "language": self.language}
        return await self._cached_json(("details", int(tmdb_id)), f"/movie/{int(tmdb_id)}", params)

    async def watch_providers(self, tmdb_id: int) -> dict[str, dict] | None:
        """Providers by country code ({"DE": {"link": ..., "flatrate": [...], ...}}), as TMDB
        (from JustWatch) has them; None when unreachable."""
        data = await self._cached_json(("providers", int(tmdb_id)),
                                       f"/movie/{int(tmdb_id)}/watch/providers", {})
        if data is None:
            return None
        results = data.get("results")
        return {str(k).upper(): v for k, v in results.items() if isinstance(v, dict)} \
            if isinstance(results, dict) else {}

    async def _cached_json(self, key: tuple, path: str, params: dict) -> dict | None:
        """GET ``path`` once per ``key`` while cached (shared by concurrent callers); a 404 is
        cached as {} (TMDB does not know it), a failure is not cached."""
        now = time.monotonic()
        hit = self._json_cache.get(key)
        if hit and now - hit[0] < self.cache_ttl:
            self._json_cache.move_to_end(key)
            return hit[1]
        if key in self._json_inflight:
            return await asyncio.shield(self._json_inflight[key])
        future = asyncio.get_running_loop().create_future()
        self._json_inflight[key] = future
        try:
            data, cacheable = await self._get_json(path, params)
            if cacheable:
                self._json_cache[key] = (time.monotonic(), data)
                while len(self._json_cache) > self.cache_size:
                    self._json_cache.popitem(last=False)
            future.set_result(data)
            return data
        finally:
            if not future.done():
                future.set_result(None)
            del self._json_inflight[key]

    async def _get_json(self, path: str, params: dict) -> tuple[dict | None, bool]:
        """(body, cacheable): a 404 is the cacheable answer {}, a timeout or error is None."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers, auth = self._auth()
        url = f"{self.base_url}{path}"
        for attempt in range(2):
            await self._wait_turn()
            self.requests += 1
            try:
                async with self._session.get(url, params={**auth, **params}, headers=headers) as resp:
                    if resp.status == 429 and attempt == 0:
                        await asyncio.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))
                        continue
                    if resp.status == 404:
                        return {}, True
                    if resp.status != 200:
                        log.info("TMDB answered %s for %s", resp.status, path)
                        return None, False
                    body = await resp.json()
                    return (body, True) if isinstance(body, dict) else (None, False)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                log.info("TMDB unavailable for %s: %s", path, type(exc).__name__)
                return None, False
        return None, False


def parse_movie(data: dict) -> TMDBMovie:
    videos = (data.get("videos") or {}).get("results") or []
    youtube = [v for v in videos if v.get("site") == "YouTube" and v.get("key")]
    # Prefer an official trailer, then any trailer, then any YouTube video.
    youtube.sort(key=lambda v: (v.get("type") != "Trailer", not v.get("official", False)))
    cast = [c.get("name", "") for c in ((data.get("credits") or {}).get("cast") or [])[:5]]
    vote_count = data.get("vote_count")
    return TMDBMovie(
        tmdb_id=int(data.get("id", 0)),
        poster_path=data.get("poster_path") or "",
        vote_average=data.get("vote_average"),
        vote_count=int(vote_count) if vote_count is not None else None,
        overview=data.get("overview") or "",
        cast=[c for c in cast if c],
        youtube_id=youtube[0]["key"] if youtube else "",
    )


# ---------------------------------------------------------------------------------------
# Catalog updates (issue 18, `moviebot catalog update`): listing and detail calls.
#
# Unlike `movie()` above (a card must not wait, so any failure means "no enrichment"), an
# update is a batch job that must not silently lose movies: a 429 is waited out as often as
# TMDB asks (Retry-After), a timeout is retried a few times and then raised as
# `TMDBUnavailable`, so the job stops with its journal intact and a rerun continues.
# ---------------------------------------------------------------------------------------

# TMDB's list endpoints, by the name `moviebot catalog update --lists` uses
LISTS = {
    "now_playing": "movie/now_playing",
    "upcoming": "movie/upcoming",
    "popular": "movie/popular",
    "trending": "trending/movie/week",
}
DETAILS_APPEND = "credits,keywords,videos"
MAX_PAGES = 500            # TMDB refuses page > 500 on every list


class TMDBUnavailable(Exception):
    """TMDB did not answer (timeouts, 5xx, refused key) after the retries an update allows."""


@dataclass
class ListPage:
    ids: list[int]
    page: int
    total_pages: int


class TMDBCatalogClient(TMDBClient):
    """The TMDB calls a catalog update makes: paged lists, discover by release date, and
    full details (``append_to_response=credits,keywords,videos``)."""

    def __init__(self, api_key: str, *, retries: int = 3, max_retry_after: float = 60.0,
                 timeout: float = 10.0, requests_per_second: float = 20.0, **kwargs):
        super().__init__(api_key, timeout=timeout, requests_per_second=requests_per_second,
                         **kwargs)
        self.retries = retries                  # per request, for timeouts and 5xx answers
        self.max_retry_after = max_retry_after  # a longer Retry-After is waited this long
        self.throttled = 0                      # 429 answers seen (for the job's summary)
        self.sleep = asyncio.sleep              # how Retry-After and backoff waits are spent

    async def get_json(self, path: str, params: dict | None = None) -> dict | None:
        """One paced GET of ``/3/<path>``: the decoded JSON, None for a 404.

        429: sleep the Retry-After TMDB sent, then try again (not counted as a failure).
        Timeouts, connection errors and 5xx: up to ``retries`` more tries, then
        `TMDBUnavailable`. 401 (a wrong key) is raised at once: retrying cannot fix it.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers, auth = self._auth()
        query = {**auth, "language": self.language, **(params or {})}
        url = f"{self.base_url}/{path.lstrip('/')}"
        failures = 0
        while True:
            await self._wait_turn()
            self.requests += 1
            try:
                async with self._session.get(url, params=query, headers=headers) as resp:
                    if resp.status == 429:
                        self.throttled += 1
                        await self.sleep(_retry_after(resp.headers.get("Retry-After"),
                                                      self.max_retry_after))
                        continue
                    if resp.status == 404:
                        return None
                    if resp.status == 401:
                        raise TMDBUnavailable("TMDB refused the API key (401): check TMDB_API_KEY")
                    if resp.status >= 500:
                        raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
                    if resp.status != 200:
                        raise TMDBUnavailable(f"TMDB answered {resp.status} for /{path}")
                    return await resp.json()
            except (TimeoutError, aiohttp.ClientError) as exc:
                failures += 1
                if failures > self.retries:
                    raise TMDBUnavailable(f"TMDB did not answer /{path} after {failures} tries "
                                          f"({type(exc).__name__})") from None
                await self.sleep(min(2.0 ** failures * 0.25, 5.0))

    async def list_page(self, name: str, page: int = 1) -> ListPage:
        """One page of a TMDB list (``LISTS``: now_playing, upcoming, popular, trending)."""
        if name not in LISTS:
            raise ValueError(f"unknown TMDB list {name!r}; choose from {', '.join(LISTS)}")
        return _page(await self.get_json(LISTS[name], {"page": page}), page)

    async def discover_page(self, since: str, page: int = 1, until: str | None = None) -> ListPage:
        """One page of the films released from ``since`` (YYYY-MM-DD) on, most popular first."""
        params = {"primary_release_date.gte": since, "sort_by": "popularity.desc", "page": page,
                  "include_adult": "false"}
        if until:
            params["primary_release_date.lte"] = until
        return _page(await self.get_json("discover/movie", params), page)

    async def movie_details(self, tmdb_id: int) -> dict | None:
        """The raw details of one film with credits, keywords and videos; None if unknown."""
        return await self.get_json(f"movie/{int(tmdb_id)}",
                                   {"append_to_response": DETAILS_APPEND})


def _retry_after(value: str | None, cap: float) -> float:
    """Retry-After in seconds (TMDB sends an integer; an HTTP date or junk means 1 s)."""
    try:
        return min(max(float(value), 0.0), cap) if value is not None else 1.0
    except ValueError:
        return 1.0


def _page(body: dict | None, page: int) -> ListPage:
    body = body or {}
    ids = []
    for item in body.get("results") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), int) and not item.get("adult"):
            ids.append(item["id"])
    total = body.get("total_pages")
    return ListPage(ids, page, min(int(total), MAX_PAGES) if isinstance(total, int) else page)


# -- TMDB records as catalog rows (catalog updates and on-demand lookups, issue 18) -------
# One conversion for both: `moviebot catalog update` appends these rows to the catalog and
# the bots fold an on-demand film into the content space from the same row, so a film
# asked for today and the same film after the next update get the same vector.

# TMDB's movie genres and their ids (its /genre/movie/list answer): a search result
# carries genre ids only.
TMDB_GENRE_IDS = {
    "Action": 28, "Adventure": 12, "Animation": 16, "Comedy": 35, "Crime": 80,
    "Documentary": 99, "Drama": 18, "Family": 10751, "Fantasy": 14, "History": 36,
    "Horror": 27, "Music": 10402, "Mystery": 9648, "Romance": 10749, "Science Fiction": 878,
    "TV Movie": 10770, "Thriller": 53, "War": 10752, "Western": 37,
}
# TMDB genre -> the MovieLens genre the models know. History, TV Movie and Music stay in
# `tmdb_genres` only (TMDB's "Music" is concert films and biopics as much as musicals).
MOVIELENS_GENRE = {
    "Action": "Action", "Adventure": "Adventure", "Animation": "Animation", "Comedy": "Comedy",
    "Crime": "Crime", "Documentary": "Documentary", "Drama": "Drama", "Family": "Children",
    "Fantasy": "Fantasy", "Horror": "Horror", "Mystery": "Mystery", "Romance": "Romance",
    "Science Fiction": "Sci-Fi", "Thriller": "Thriller", "War": "War", "Western": "Western",
}
ROW_SOURCE = "tmdb_api"   # what `sources` records for a field a catalog row took from TMDB


class MalformedRecord(ValueError):
    """A TMDB answer that is not a usable film (skipped and counted, never fatal)."""


def _names(items: Any, key: str = "name") -> list[str]:
    if not isinstance(items, list):
        raise MalformedRecord(f"expected a list, got {type(items).__name__}")
    return [str(i[key]).strip() for i in items if isinstance(i, dict) and i.get(key)]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return math.nan
    return float(value)


def catalog_row(record: Any, today: str | None = None) -> dict:
    """One catalog row (docs/ARCHITECTURE.md's table) from TMDB's movie details (or a bare
    search result), or `MalformedRecord` saying what is wrong. Nothing is made up: what
    TMDB leaves out stays empty ("" / [] / NaN). ``movie_id`` is the id the film gets when
    an update adds it (``TMDB_ID_BASE + tmdb_id``)."""
    if not isinstance(record, dict):
        raise MalformedRecord("not a JSON object")
    tmdb_id = record.get("id")
    if isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int) or tmdb_id <= 0:
        raise MalformedRecord(f"bad id {tmdb_id!r}")
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise MalformedRecord(f"film {tmdb_id} has no title")
    released = record.get("release_date") or ""
    try:
        year = datetime.strptime(released, "%Y-%m-%d").year if released else None
    except (TypeError, ValueError):
        raise MalformedRecord(f"film {tmdb_id}: release_date {released!r} is not a date") from None
    named = _names(record.get("genres") or [])
    if not named:
        by_id = {v: k for k, v in TMDB_GENRE_IDS.items()}
        named = [by_id[i] for i in record.get("genre_ids") or [] if i in by_id]
    # the build's own hygiene (engine/datasets/hygiene.py): repaired text, TMDB's genre
    # vocabulary, no production tags ("aftercreditsstinger") among the themes
    genres = hy.clean_genres(named, hy.TMDB_GENRES)
    credits = record.get("credits") or {}
    cast = sorted((c for c in credits.get("cast") or [] if isinstance(c, dict) and c.get("name")),
                  key=lambda c: c.get("order", 0))
    directors = [c["name"] for c in credits.get("crew") or []
                 if isinstance(c, dict) and c.get("job") == "Director" and c.get("name")]
    keywords = hy.clean_keywords(hy.fix_list(_names(((record.get("keywords") or {}).get("keywords")) or [])))
    videos = (record.get("videos") or {}).get("results") or []
    youtube = [v for v in videos if isinstance(v, dict) and v.get("site") == "YouTube" and v.get("key")]
    youtube.sort(key=lambda v: (v.get("type") != "Trailer", not v.get("official", False)))
    collection = record.get("belongs_to_collection") or {}
    imdb = record.get("imdb_id") or ""
    text = lambda key: (hy.fix_text(record[key]).strip() if isinstance(record.get(key), str)  # noqa: E731
                        else "")
    row = {
        "movie_id": TMDB_ID_BASE + tmdb_id, "title": text("title"), "akas": [],
        "ml_title": f"{text('title')} ({year})" if year else text("title"),
        "year": year,
        "genres": list(dict.fromkeys(MOVIELENS_GENRE[g] for g in genres if g in MOVIELENS_GENRE)),
        "imdb_id": imdb if isinstance(imdb, str) and imdb.startswith("tt") else "",
        "tmdb_id": tmdb_id, "overview": text("overview"), "tagline": text("tagline"),
        "original_language": text("original_language"),
        "poster_path": text("poster_path"),
        "collection": str(collection.get("name") or "") if isinstance(collection, dict) else "",
        "keywords": keywords, "cast": hy.fix_list(c["name"] for c in cast[:5]),
        "directors": hy.fix_list(directors), "tmdb_genres": genres,
        "countries": hy.fix_list(_names(record.get("production_countries") or [])),
        "runtime": _number(record.get("runtime")) or math.nan,
        "popularity": _number(record.get("popularity")),
        "vote_average": _number(record.get("vote_average")),
        "vote_count": _number(record.get("vote_count")),
        "budget": _number(record.get("budget")) or math.nan,
        "revenue": _number(record.get("revenue")) or math.nan,
        "youtube_id": youtube[0]["key"] if youtube else "",
        "rating_count": 0, "rating_mean": math.nan,
        "release_date": released,
    }
    stamp = f"{ROW_SOURCE}@{today or date.today().isoformat()}"
    row["sources"] = json.dumps({k: stamp for k in (
        "title", "overview", "tagline", "keywords", "cast", "directors", "tmdb_genres",
        "countries", "runtime", "popularity", "vote_average", "vote_count", "budget", "revenue",
        "original_language", "poster_path", "youtube_id", "collection")
        if filled(row[k])}, sort_keys=True)
    return row


def filled(value: Any) -> bool:
    """A catalog value that says something (not NaN, "" or [])."""
    if isinstance(value, float):
        return not math.isnan(value)
    return bool(value)


def movie_from_row(row: dict) -> Movie:
    """The `Movie` front-ends show for a `catalog_row` (no MovieLens ratings: TMDB's votes)."""
    votes = _float(row.get("vote_count"))
    return Movie(
        movie_id=int(row.get("movie_id") or 0), title=row["title"], year=row.get("year"),
        genres=list(row.get("genres") or []), overview=row.get("overview", ""),
        tagline=row.get("tagline", ""), keywords=list(row.get("keywords") or []),
        cast=list(row.get("cast") or []), directors=list(row.get("directors") or []),
        runtime=_float(row.get("runtime")), vote_average=_float(row.get("vote_average")),
        vote_count=int(votes) if votes is not None else None, popularity=_float(row.get("popularity")),
        poster_path=row.get("poster_path", ""), youtube_id=row.get("youtube_id", ""),
        imdb_id=row.get("imdb_id", ""), tmdb_id=row.get("tmdb_id") or None)


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None   # NaN: missing
