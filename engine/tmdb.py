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
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import aiohttp

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


# -- TMDB records as catalog rows (on demand, issue 18 part B) ----------------------------
# TMDB's movie genres and their ids (its /genre/movie/list answer).
TMDB_GENRE_IDS = {
    "Action": 28, "Adventure": 12, "Animation": 16, "Comedy": 35, "Crime": 80,
    "Documentary": 99, "Drama": 18, "Family": 10751, "Fantasy": 14, "History": 36,
    "Horror": 27, "Music": 10402, "Mystery": 9648, "Romance": 10749, "Science Fiction": 878,
    "TV Movie": 10770, "Thriller": 53, "War": 10752, "Western": 37,
}
# TMDB genre -> the MovieLens genre the catalog's `genres` column uses. History and TV
# Movie have no MovieLens counterpart: they stay in `tmdb_genres` only.
MOVIELENS_GENRE = {
    "Action": "Action", "Adventure": "Adventure", "Animation": "Animation", "Comedy": "Comedy",
    "Crime": "Crime", "Documentary": "Documentary", "Drama": "Drama", "Family": "Children",
    "Fantasy": "Fantasy", "Horror": "Horror", "Music": "Musical", "Mystery": "Mystery",
    "Romance": "Romance", "Science Fiction": "Sci-Fi", "Thriller": "Thriller", "War": "War",
    "Western": "Western",
}


def catalog_row(data: dict) -> dict:
    """A TMDB movie (details with credits, keywords, videos; or a bare search result) as
    the catalog's columns (docs/ARCHITECTURE.md, "Catalog table"), so the content model
    can embed it like any catalog film. ``movie_id`` is 0: it has no catalog id yet."""
    names = [g.get("name", "") for g in data.get("genres") or [] if isinstance(g, dict)]
    if not names:   # a search result carries genre ids only
        by_id = {v: k for k, v in TMDB_GENRE_IDS.items()}
        names = [by_id[i] for i in data.get("genre_ids") or [] if i in by_id]
    genres = list(dict.fromkeys(MOVIELENS_GENRE[g] for g in names if g in MOVIELENS_GENRE))
    keywords = data.get("keywords") or {}
    keywords = keywords.get("keywords") or keywords.get("results") or [] \
        if isinstance(keywords, dict) else []
    credits = data.get("credits") or {}
    crew = credits.get("crew") or []
    release = str(data.get("release_date") or "")
    live = parse_movie(data)
    return {
        "movie_id": 0, "title": str(data.get("title") or data.get("original_title") or ""),
        "year": int(release[:4]) if release[:4].isdigit() else None,
        "release_date": release, "genres": genres, "tmdb_genres": names,
        "overview": str(data.get("overview") or ""), "tagline": str(data.get("tagline") or ""),
        "keywords": [str(k.get("name")) for k in keywords if isinstance(k, dict) and k.get("name")],
        "cast": live.cast,
        "directors": [str(c.get("name")) for c in crew
                      if isinstance(c, dict) and c.get("job") == "Director" and c.get("name")],
        "runtime": _float(data.get("runtime")), "popularity": _float(data.get("popularity")),
        "vote_average": _float(data.get("vote_average")), "vote_count": _float(data.get("vote_count")),
        "original_language": str(data.get("original_language") or ""),
        "poster_path": live.poster_path, "youtube_id": live.youtube_id,
        "imdb_id": str(data.get("imdb_id") or ""), "tmdb_id": int(data.get("id") or 0),
    }


def movie_from_row(row: dict) -> Movie:
    """The `Movie` front-ends show for a `catalog_row` (no MovieLens ratings: TMDB's votes)."""
    votes = row.get("vote_count")
    return Movie(
        movie_id=int(row.get("movie_id") or 0), title=row["title"], year=row.get("year"),
        genres=list(row.get("genres") or []), overview=row.get("overview", ""),
        tagline=row.get("tagline", ""), keywords=list(row.get("keywords") or []),
        cast=list(row.get("cast") or []), directors=list(row.get("directors") or []),
        runtime=row.get("runtime"), vote_average=row.get("vote_average"),
        vote_count=int(votes) if votes is not None else None, popularity=row.get("popularity"),
        poster_path=row.get("poster_path", ""), youtube_id=row.get("youtube_id", ""),
        imdb_id=row.get("imdb_id", ""), tmdb_id=row.get("tmdb_id") or None)


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None   # NaN: missing
