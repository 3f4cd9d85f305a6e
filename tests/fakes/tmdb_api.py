"""A fake TMDB v3 API on 127.0.0.1 serving real rows from the shared data files.

``/3/movie/{id}?append_to_response=videos,credits,keywords`` answers in TMDB's JSON shape,
built from TMDB_movie_dataset_v11.csv (poster, votes, overview, genres, keywords, release
date, runtime), the Udacity TMDB file (cast, director) and MovieLens' YouTube trailer
list (joined through links.csv). ``/3/search/movie`` searches those titles.

``/3/movie/{id}/watch/providers`` serves ``WATCH_PROVIDERS``, a small fixed table defined
here: the shared data has no provider information, so this is test scaffolding only (it
mirrors TMDB's shape; the product never shows providers without a real key).
"""

from __future__ import annotations

import asyncio
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


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def _split(value) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else []


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
        self.requests: list[int] = []  # /movie/{id} requests
        self.calls: list[str] = []     # every request's path, in order
        self.providers = WATCH_PROVIDERS
        self.no_providers: set[int] = set()
        self.delay = 0.0               # seconds before answering (timeouts)
        self.throttle_next = 0         # answer this many requests with 429 first
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3"

    async def start(self) -> FakeTMDB:
        app = web.Application()
        app.router.add_get("/3/movie/{id}", self._movie)
        app.router.add_get("/3/search/movie", self._search)
        app.router.add_get("/3/movie/{id}/watch/providers", self._watch_providers)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _gate(self, request: web.Request, movie_id: int | None = None) -> web.Response | None:
        """The key check, the delay and the throttle every endpoint shares (``movie_id``: a
        details request, counted in ``requests``)."""
        self.calls.append(request.path)
        key = request.query.get("api_key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            return web.json_response({"success": False, "status_code": 7,
                                      "status_message": "Invalid API key: You must be granted a valid key."},
                                     status=401)
        if movie_id is not None:
            self.requests.append(movie_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return web.json_response({"status_code": 25, "status_message": "Your request count is over the allowed limit."},
                                     status=429, headers={"Retry-After": "1"})
        return None

    @staticmethod
    def _not_found() -> web.Response:
        return web.json_response({"success": False, "status_code": 34,
                                  "status_message": "The resource you requested could not be found."},
                                 status=404)

    async def _movie(self, request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        refused = await self._gate(request, movie_id)
        if refused is not None:
            return refused
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
