"""A fake TMDB v3 API on 127.0.0.1 serving real rows from the shared data files.

``/3/movie/{id}?append_to_response=videos,credits`` answers in TMDB's JSON shape, built
from TMDB_movie_dataset_v11.csv (poster, votes, overview), the Udacity TMDB file (cast)
and MovieLens' YouTube trailer list (joined through links.csv).

For catalog updates (issue 18) it also serves the lists (now_playing, upcoming, popular,
trending), discover by release date and configuration, paged 20 a page as TMDB does;
``recent_movies`` gives real films released after MovieLens' snapshot (Oppenheimer,
Barbie, ...), with every detail field the dataset has (none is invented: that file has no
credits or trailers, so those stay empty). Faults are injectable: ``throttle_next``
(429 with Retry-After), ``delay`` (timeouts), ``malformed`` (ids whose details come back
broken) and ``hang_details_after`` (a TMDB that stops answering mid-update).

For on-demand lookups and where to watch, ``/3/search/movie`` searches those titles and
``/3/movie/{id}/watch/providers`` serves ``WATCH_PROVIDERS``, a small fixed table defined
here: the shared data has no provider information, so this is test scaffolding only (it
mirrors TMDB's shape; the product never shows providers without a real key).

    python -m tests.fakes.tmdb_api --port 8765 --since 2019-01-01 --limit 200
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
from pathlib import Path

import pandas as pd
from aiohttp import web

from engine.tmdb import TMDB_GENRE_IDS

from . import serve_on_loopback


def movies_from_dataset(data_dir: Path, limit: int = 300) -> dict[int, dict]:
    # nrows: the file is a cut-down copy whose last row ends inside a quoted field.
    full = pd.read_csv(data_dir / "tmdb_full_dataset_v11" / "TMDB_movie_dataset_v11.csv",
                       usecols=["id", "title", "vote_average", "vote_count", "overview",
                                "poster_path", "release_date", "runtime", "tagline", "genres",
                                "keywords", "original_language", "imdb_id", "popularity"],
                       nrows=limit).drop_duplicates("id")
    credits = pd.read_csv(data_dir / "tmdb_udacity_10k" / "tmdb-movies.csv",
                          usecols=["id", "cast", "director"]).drop_duplicates("id").set_index("id")
    udacity, directors = credits["cast"], credits["director"]
    links = pd.read_csv(data_dir / "movielens" / "ml-latest-small" / "links.csv").dropna()
    youtube = pd.read_csv(data_dir / "movielens" / "ml-20m-youtube" / "ml-youtube.csv")
    trailer = youtube.merge(links, on="movieId").drop_duplicates("tmdbId").set_index("tmdbId")["youtubeId"]
    trailer.index = trailer.index.astype(int)
    out = {}
    for row in full.itertuples(index=False):
        tmdb_id = int(row.id)
        cast = udacity.get(tmdb_id)
        key = trailer.get(tmdb_id)
        director = directors.get(tmdb_id)
        out[tmdb_id] = {
            "id": tmdb_id, "title": row.title, "overview": row.overview if isinstance(row.overview, str) else "",
            "poster_path": row.poster_path if isinstance(row.poster_path, str) else None,
            "vote_average": float(row.vote_average), "vote_count": int(row.vote_count),
            "release_date": _text(row.release_date), "runtime": _number(row.runtime),
            "tagline": _text(row.tagline), "original_language": _text(row.original_language),
            "imdb_id": _text(row.imdb_id) or None, "popularity": _number(row.popularity),
            "genres": [{"id": TMDB_GENRE_IDS.get(g, 0), "name": g} for g in _split(row.genres)],
            "keywords": {"keywords": [{"id": i, "name": k} for i, k in enumerate(_split(row.keywords), 1)]},
            "credits": {"cast": [{"name": n, "order": i} for i, n in
                                 enumerate(cast.split("|") if isinstance(cast, str) else [])],
                        "crew": [{"name": n, "job": "Director", "department": "Directing"}
                                 for n in (director.split("|") if isinstance(director, str) else [])]},
            "videos": {"results": ([{"site": "YouTube", "type": "Trailer", "official": True,
                                     "key": key, "name": "Trailer"}] if isinstance(key, str) else [])},
        }
    return out


PAGE_SIZE = 20
GENRE_IDS = {"Action": 28, "Adventure": 12, "Animation": 16, "Comedy": 35, "Crime": 80,
             "Documentary": 99, "Drama": 18, "Family": 10751, "Fantasy": 14, "History": 36,
             "Horror": 27, "Music": 10402, "Mystery": 9648, "Romance": 10749,
             "Science Fiction": 878, "TV Movie": 10770, "Thriller": 53, "War": 10752,
             "Western": 37}


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def _split(value) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else []


def _num(value, default=None):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(value) else value


def recent_movies(data_dir: Path, since: str = "2019-01-01", limit: int = 200) -> dict[int, dict]:
    """Real films released on or after ``since`` from TMDB_movie_dataset_v11.csv, as TMDB's
    ``/movie/{id}?append_to_response=credits,keywords,videos`` would describe them (most
    voted first). The file has no cast, crew or trailers: those lists are empty."""
    from engine.datasets.csvio import read_csv

    full = read_csv(data_dir / "tmdb_full_dataset_v11" / "TMDB_movie_dataset_v11.csv")
    full = full[pd.to_datetime(full["release_date"], errors="coerce") >= pd.Timestamp(since)]
    full = full[full["adult"].astype(str) != "True"].drop_duplicates("id")
    full = full.sort_values("vote_count", ascending=False).head(limit)
    out = {}
    for row in full.itertuples(index=False):
        tmdb_id = int(row.id)
        out[tmdb_id] = {
            "id": tmdb_id, "title": row.title, "original_title": row.original_title,
            "release_date": str(row.release_date), "imdb_id": row.imdb_id if isinstance(row.imdb_id, str) else None,
            "overview": row.overview if isinstance(row.overview, str) else "",
            "tagline": row.tagline if isinstance(row.tagline, str) else "",
            "runtime": int(_num(row.runtime, 0)), "original_language": row.original_language,
            "popularity": _num(row.popularity, 0.0), "budget": int(_num(row.budget, 0)),
            "revenue": int(_num(row.revenue, 0)),
            "poster_path": row.poster_path if isinstance(row.poster_path, str) else None,
            "vote_average": _num(row.vote_average, 0.0), "vote_count": int(_num(row.vote_count, 0)),
            "genres": [{"id": GENRE_IDS.get(g, 0), "name": g} for g in _split(row.genres)],
            "production_countries": [{"name": c} for c in _split(row.production_countries)],
            "belongs_to_collection": None, "adult": False,
            "keywords": {"keywords": [{"id": i, "name": k} for i, k in enumerate(_split(row.keywords))]},
            "credits": {"cast": [], "crew": []},
            "videos": {"results": []},
        }
    return out


def synthetic_variants(movies: dict[int, dict], count: int, start_id: int = 90_000_000) -> dict[int, dict]:
    """``count`` films made from real rows for load tests, each clearly labelled: a new id,
    "(synthetic variant N)" in the title, the real row's other fields."""
    base = list(movies.values())
    out = {}
    for i in range(count):
        row = dict(base[i % len(base)])
        tmdb_id = start_id + i
        out[tmdb_id] = {**row, "id": tmdb_id, "title": f"{row['title']} (synthetic variant {i + 1})",
                        "imdb_id": None}
    return out


def _provider(provider_id: int, name: str) -> dict:
    return {"provider_id": provider_id, "provider_name": name, "display_priority": provider_id,
            "logo_path": f"/logo{provider_id}.jpg"}


# Test scaffolding (see the module docstring): two countries with different offers, so a
# test can tell the user's country from another one. An id in ``FakeTMDB.no_providers``
# has none anywhere.
WATCH_PROVIDERS = {
    "US": {"flatrate": [_provider(8, "Netflix")],
           "rent": [_provider(2, "Apple TV"), _provider(10, "Amazon Video")],
           "buy": [_provider(2, "Apple TV"), _provider(10, "Amazon Video")]},
    "DE": {"flatrate": [_provider(337, "Disney Plus"), _provider(30, "WOW")],
           "buy": [_provider(10, "Amazon Video")]},
}


class FakeTMDB:
    def __init__(self, movies: dict[int, dict], api_key: str = "tmdb-test-key"):
        self.movies = movies
        self.api_key = api_key
        self.requests: list[int] = []  # detail requests, by TMDB id
        self.paths: list[str] = []     # every request's path, with its page if any
        self.calls: list[str] = []     # every request's path alone, in order
        self.providers = WATCH_PROVIDERS
        self.no_providers: set[int] = set()
        self.delay = 0.0               # seconds before answering (timeouts)
        self.throttle_next = 0         # answer this many requests with 429 first
        self.retry_after = "1"         # the Retry-After header sent with a 429
        self.malformed: set[int] = set()   # ids whose details come back broken
        self.hang_details_after: int | None = None  # after this many detail requests, hang
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/3/configuration", self._configuration)
        app.router.add_get("/3/discover/movie", self._discover)
        app.router.add_get("/3/trending/movie/{window}", self._trending)
        for name in ("now_playing", "upcoming", "popular"):
            app.router.add_get(f"/3/movie/{name}", self._list(name))
        app.router.add_get("/3/movie/{id:\\d+}", self._movie)
        app.router.add_get("/3/search/movie", self._search)
        app.router.add_get("/3/movie/{id:\\d+}/watch/providers", self._watch_providers)
        return app

    async def start(self, port: int = 0) -> FakeTMDB:
        if not port:
            self._runner, self.port = await serve_on_loopback(self.app())
            return self
        # a fixed port, so a shell can point TMDB_API_BASE_URL at it
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = port
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _gate(self, request: web.Request, movie_id: int | None = None) -> web.Response | None:
        """What every endpoint does first: the key, the delay, an injected 429 (a detail
        request counts in ``requests`` once the key is accepted, throttled or not)."""
        self.calls.append(request.path)
        key = request.query.get("api_key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            return web.json_response({"success": False, "status_code": 7,
                                      "status_message": "Invalid API key: You must be granted a valid key."},
                                     status=401)
        if movie_id is not None:
            self.requests.append(movie_id)
        page = request.query.get("page")
        self.paths.append(request.path + (f"?page={page}" if page else ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return web.json_response({"status_code": 25, "status_message": "Your request count is over the allowed limit."},
                                     status=429, headers={"Retry-After": self.retry_after})
        return None

    def _paged(self, request: web.Request, ids: list[int]) -> web.Response:
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            page = 0
        if not 1 <= page <= 500:
            return web.json_response({"success": False, "status_code": 22,
                                      "status_message": "Invalid page: Pages start at 1 and max at 500."},
                                     status=400)
        chunk = ids[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        results = [{k: self.movies[i].get(k) for k in ("id", "title", "release_date", "popularity",
                                                          "vote_average", "vote_count", "poster_path",
                                                          "overview", "adult")} for i in chunk]
        return web.json_response({"page": page, "results": results, "total_results": len(ids),
                                  "total_pages": max(1, math.ceil(len(ids) / PAGE_SIZE))})

    def _released(self) -> list[int]:
        return sorted(self.movies, key=lambda i: self.movies[i].get("release_date") or "", reverse=True)

    def _by(self, field: str) -> list[int]:
        return sorted(self.movies, key=lambda i: -(self.movies[i].get(field) or 0))

    def _list(self, name: str):
        async def handler(request: web.Request) -> web.Response:
            if (refused := await self._gate(request)) is not None:
                return refused
            # a dataset snapshot has no cinema programme: the newest releases stand in for
            # now playing and upcoming, the most popular for popular
            ids = {"now_playing": self._released()[:40], "upcoming": self._released()[:20],
                   "popular": self._by("popularity")}[name]
            return self._paged(request, ids)
        return handler

    async def _trending(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        return self._paged(request, self._by("vote_count")[:60])

    async def _discover(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        since = request.query.get("primary_release_date.gte", "")
        until = request.query.get("primary_release_date.lte", "9999")
        ids = [i for i in self._by("popularity")
               if since <= (self.movies[i].get("release_date") or "") <= until]
        return self._paged(request, ids)

    async def _configuration(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        return web.json_response({"images": {"secure_base_url": "https://image.tmdb.org/t/p/",
                                             "poster_sizes": ["w92", "w185", "w500", "original"]},
                                  "change_keys": []})

    @staticmethod
    def _not_found() -> web.Response:
        return web.json_response({"success": False, "status_code": 34,
                                  "status_message": "The resource you requested could not be found."},
                                 status=404)

    async def _movie(self, request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        if (refused := await self._gate(request, movie_id)) is not None:
            return refused
        if self.hang_details_after is not None and len(self.requests) > self.hang_details_after:
            await asyncio.sleep(3600)   # TMDB stopped answering: the client's timeout fires
        if movie_id in self.malformed:
            return web.json_response({"id": str(movie_id), "title": None, "genres": "Drama",
                                      "release_date": "sometime"})
        movie = self.movies.get(movie_id)
        if movie is None:
            return self._not_found()
        wanted = set(request.query.get("append_to_response", "").split(","))
        body = {k: v for k, v in movie.items()
                if k not in {"credits", "videos", "keywords"} or k in wanted}
        return web.json_response(body)

    async def _search(self, request: web.Request) -> web.Response:
        """Title search: every word of the query in the title, most popular first."""
        refused = await self._gate(request)
        if refused is not None:
            return refused
        words = re.findall(r"\w+", request.query.get("query", "").casefold())
        year = request.query.get("year", "")
        found = [m for m in self.movies.values()
                 if words and all(w in re.findall(r"\w+", m["title"].casefold()) for w in words)
                 and (not year or m.get("release_date", "").startswith(year))]
        found.sort(key=lambda m: -(m.get("popularity") or 0))
        results = [{"id": m["id"], "title": m["title"], "original_title": m["title"],
                    "release_date": m.get("release_date", ""), "overview": m["overview"],
                    "poster_path": m["poster_path"], "popularity": m.get("popularity"),
                    "vote_average": m["vote_average"], "vote_count": m["vote_count"],
                    "original_language": m.get("original_language", ""), "adult": False,
                    "genre_ids": [g["id"] for g in m.get("genres", [])]} for m in found[:20]]
        return web.json_response({"page": 1, "results": results, "total_pages": 1 if results else 0,
                                  "total_results": len(found)})

    async def _watch_providers(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        movie_id = int(request.match_info["id"])
        movie = self.movies.get(movie_id)
        if movie is None:
            return self._not_found()
        slug = "-".join(movie["title"].lower().split())
        results = {} if movie_id in self.no_providers else {
            country: {"link": f"https://www.themoviedb.org/movie/{movie_id}-{slug}/watch?locale={country}",
                      **offers} for country, offers in self.providers.items()}
        return web.json_response({"id": movie_id, "results": results})

async def _serve_forever(args: argparse.Namespace) -> None:
    from engine.config import Settings

    data_dir = Path(args.data_dir) if args.data_dir else Settings.from_env().data_dir
    movies = recent_movies(data_dir, args.since, args.limit)
    if args.synthetic:
        movies.update(synthetic_variants(movies, args.synthetic))
    fake = await FakeTMDB(movies, api_key=args.api_key).start(args.port)
    print(f"fake TMDB serving {len(movies)} films ({args.synthetic} synthetic) released since "
          f"{args.since} at {fake.base_url} (key {args.api_key!r})", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a fake TMDB v3 API on 127.0.0.1 (tests, demos)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--since", default="2019-01-01")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--synthetic", type=int, default=0, help="add N labelled synthetic variants")
    parser.add_argument("--api-key", default="tmdb-test-key")
    parser.add_argument("--data-dir", default="")
    asyncio.run(_serve_forever(parser.parse_args()))
