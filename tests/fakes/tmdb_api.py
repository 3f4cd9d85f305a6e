"""A fake TMDB v3 API on 127.0.0.1 serving real rows from the shared data files.

``/3/movie/{id}?append_to_response=videos,credits`` answers in TMDB's JSON shape, built
from TMDB_movie_dataset_v11.csv (poster, votes, overview), the Udacity TMDB file (cast)
and MovieLens' YouTube trailer list (joined through links.csv).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
from aiohttp import web

from . import serve_on_loopback


def movies_from_dataset(data_dir: Path, limit: int = 300) -> dict[int, dict]:
    # nrows: the file is a cut-down copy whose last row ends inside a quoted field.
    full = pd.read_csv(data_dir / "tmdb_full_dataset_v11" / "TMDB_movie_dataset_v11.csv",
                       usecols=["id", "title", "vote_average", "vote_count", "overview",
                                "poster_path"], nrows=limit).drop_duplicates("id")
    udacity = pd.read_csv(data_dir / "tmdb_udacity_10k" / "tmdb-movies.csv",
                          usecols=["id", "cast"]).drop_duplicates("id").set_index("id")["cast"]
    links = pd.read_csv(data_dir / "movielens" / "ml-latest-small" / "links.csv").dropna()
    youtube = pd.read_csv(data_dir / "movielens" / "ml-20m-youtube" / "ml-youtube.csv")
    trailer = youtube.merge(links, on="movieId").drop_duplicates("tmdbId").set_index("tmdbId")["youtubeId"]
    trailer.index = trailer.index.astype(int)
    out = {}
    for row in full.itertuples(index=False):
        tmdb_id = int(row.id)
        cast = udacity.get(tmdb_id)
        key = trailer.get(tmdb_id)
        out[tmdb_id] = {
            "id": tmdb_id, "title": row.title, "overview": row.overview if isinstance(row.overview, str) else "",
            "poster_path": row.poster_path if isinstance(row.poster_path, str) else None,
            "vote_average": float(row.vote_average), "vote_count": int(row.vote_count),
            "credits": {"cast": [{"name": n, "order": i} for i, n in
                                 enumerate(cast.split("|") if isinstance(cast, str) else [])]},
            "videos": {"results": ([{"site": "YouTube", "type": "Trailer", "official": True,
                                     "key": key, "name": "Trailer"}] if isinstance(key, str) else [])},
        }
    return out


class FakeTMDB:
    def __init__(self, movies: dict[int, dict], api_key: str = "tmdb-test-key"):
        self.movies = movies
        self.api_key = api_key
        self.requests: list[int] = []
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
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _movie(self, request: web.Request) -> web.Response:
        key = request.query.get("api_key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            return web.json_response({"success": False, "status_code": 7,
                                      "status_message": "Invalid API key: You must be granted a valid key."},
                                     status=401)
        movie_id = int(request.match_info["id"])
        self.requests.append(movie_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return web.json_response({"status_code": 25, "status_message": "Your request count is over the allowed limit."},
                                     status=429, headers={"Retry-After": "1"})
        movie = self.movies.get(movie_id)
        if movie is None:
            return web.json_response({"success": False, "status_code": 34,
                                      "status_message": "The resource you requested could not be found."},
                                     status=404)
        wanted = set(request.query.get("append_to_response", "").split(","))
        body = {k: v for k, v in movie.items() if k not in {"credits", "videos"} or k in wanted}
        return web.json_response(body)
