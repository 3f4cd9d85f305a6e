"""`VibeIndex`: what the Engine loads to answer /song and /playlist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from annoy import AnnoyIndex

from engine.errors import ComponentMissing
from engine.results import Filters, Movie, Recommendation, Recommendations, Song, SongPick

from .mood import GENRES
from .song_lookup import SongLookup, Vibe, describe_song, is_vibe_query, parse_vibe
from .space import AUDIO, VibeSpace, song_features, vibe_features

MAX_K = 100
# Measured on the 9,742-movie index (benchmarks/bench_song.py): Annoy's dot metric needs
# search_k 10,000 for recall@10 0.85 (0.7 ms) and 30,000 for 0.985 (2 ms), while exact
# scoring of all movies with numpy takes 0.14 ms. So up to EXACT_MAX items the vectors
# are scored exactly and Annoy is the path for catalogs too big for that.
EXACT_MAX = 200_000
SEARCH_K = 30_000


class VibeIndex:
    def __init__(self, space: VibeSpace, movies: AnnoyIndex, movie_ids: np.ndarray,
                 songs_index: AnnoyIndex, songs: pd.DataFrame, catalog):
        self.space = space
        self.movies = movies
        self.movie_ids = movie_ids
        self.songs_index = songs_index
        self.songs = songs.reset_index(drop=True)
        self.catalog = catalog
        self.lookup = SongLookup(self.songs)
        # plain arrays and lists: a query must not touch pandas (p99 target 2 ms)
        self.song_vecs = space.embed_songs(song_features(self.songs)).astype(np.float32)
        self.audio = self.songs[AUDIO].to_numpy(dtype=float)
        self.names = self.songs["name"].astype(str).tolist()
        self.artists = self.songs["artist"].astype(str).tolist()
        self.track_ids = self.songs["track_id"].astype(str).tolist()
        self._words: dict[int, str] = {}
        self.row_of_movie = {int(m): i for i, m in enumerate(movie_ids)}
        self.movie_vecs = (np.array([movies.get_item_vector(i) for i in range(len(movie_ids))],
                                    dtype=np.float32)
                           if len(movie_ids) <= EXACT_MAX else None)
        genre_rows = [space.movie_columns.index(f"g_{g}") for g in GENRES]
        self.genre_proj = space.movie_proj[genre_rows]

    @classmethod
    def load(cls, dir: Path, catalog) -> VibeIndex:
        dir = Path(dir)
        if not (dir / "movies.ann").exists():
            raise ComponentMissing("crossmedia")
        space = VibeSpace.load(dir)
        movies = AnnoyIndex(space.dim, "dot")
        movies.load(str(dir / "movies.ann"), prefault=False)
        songs_index = AnnoyIndex(space.dim, "dot")
        songs_index.load(str(dir / "songs.ann"), prefault=False)
        songs = pd.read_parquet(dir.parent / "songs.parquet")
        song_ids = np.load(dir / "song_ids.npy", allow_pickle=True)
        if len(song_ids) != len(songs) or (songs["track_id"].astype(str).to_numpy() != song_ids).any():
            raise ComponentMissing("crossmedia", "its song index does not match songs.parquet; "
                                   "run `moviebot build --only crossmedia`")
        return cls(space, movies, np.load(dir / "movie_ids.npy"), songs_index, songs, catalog)

    # -- songs -> movies --------------------------------------------------------------
    def resolve(self, query: str) -> tuple[dict, np.ndarray, str]:
        """(query dict, song vector in the space, mood words) for a title/id/vibe query."""
        text = (query or "").strip()
        if is_vibe_query(text):
            vibe: Vibe = parse_vibe(text[4:])
            features = vibe_features(vibe.valence, vibe.energy, **{
                k: v for k, v in vibe.values.items() if k not in ("valence", "energy")})
            words = describe_song({"valence": vibe.valence, "energy": vibe.energy,
                                   **vibe.values})
            return ({"vibe": vibe.values, "mood": words}, self.space.embed_songs(features)[0],
                    words)
        row = self.lookup.find(text)
        words = self._words.get(row)
        if words is None:
            words = self._words[row] = describe_song(dict(zip(AUDIO, self.audio[row], strict=True)))
        return ({"song": self.names[row], "artist": self.artists[row],
                 "track_id": self.track_ids[row], "mood": words}, self.song_vecs[row], words)

    def song(self, query: str, k: int = 10, filters: Filters | None = None) -> Recommendations:
        k = max(1, min(int(k), MAX_K))
        info, vec, words = self.resolve(query)
        genre_weight = self.genre_proj @ vec
        # genres in the order this song favours them, for the "-> comedy, romance" half
        genre_rank = {GENRES[i]: r for r, i in enumerate(np.argsort(-genre_weight).tolist())}
        results = [Recommendation(movie, score, self._reason(words, movie, genre_rank))
                   for movie, score in self._nearest_movies(vec, k, filters)]
        return Recommendations(query=info, results=results, kind="song")

    def _top_rows(self, vec: np.ndarray, n: int) -> tuple[list[int], list[float]]:
        """The ``n`` best movie rows for a song vector, best first."""
        if self.movie_vecs is None:
            return self.movies.get_nns_by_vector(vec.tolist(), n, search_k=SEARCH_K,
                                                 include_distances=True)
        scores = self.movie_vecs @ vec
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top.tolist(), scores[top].tolist()

    def _nearest_movies(self, vec: np.ndarray, k: int, filters: Filters | None):
        want = k if filters is None or filters.is_empty() else k * 5
        while True:
            rows, scores = self._top_rows(vec, want)
            picked = []
            for row, score in zip(rows, scores, strict=True):
                movie = self.catalog.movie(int(self.movie_ids[row]))
                if filters is None or filters.accepts(movie):
                    picked.append((movie, float(score)))
                    if len(picked) == k:
                        return picked
            if want >= len(self.movie_ids):
                return picked
            want = min(want * 4, len(self.movie_ids))

    @staticmethod
    def _reason(words: str, movie: Movie, genre_rank: dict[str, int]) -> str:
        genres = sorted((g for g in movie.genres if g in genre_rank), key=genre_rank.__getitem__)
        right = ", ".join(g.lower() for g in genres[:2]) or "its mood"
        era = f" ({movie.year // 10 * 10}s)" if movie.year else ""
        return f"{words} -> {right}{era}"

    # -- movie -> songs ---------------------------------------------------------------
    def songs_for_movie(self, movie: Movie, k: int = 10) -> list[SongPick]:
        k = max(1, min(int(k), MAX_K))
        row = self.row_of_movie.get(int(movie.movie_id))
        if row is None:
            from engine.errors import UnknownTitle

            raise UnknownTitle(movie.label)
        vec = np.asarray(self.movies.get_item_vector(row), dtype=np.float32)
        if len(self.song_vecs) <= EXACT_MAX:
            scores = self.song_vecs @ vec
            top = np.argpartition(-scores, k * 3)[:k * 3]
            rows = top[np.argsort(-scores[top], kind="stable")].tolist()
            scores = scores[rows].tolist()
        else:
            rows, scores = self.songs_index.get_nns_by_vector(vec.tolist(), k * 3,
                                                              search_k=SEARCH_K,
                                                              include_distances=True)
        picks, seen = [], set()
        genres = ", ".join(g.lower() for g in movie.genres[:2]) or "this movie"
        for r, score in zip(rows, scores, strict=True):
            rec = self.songs.iloc[r]
            key = (str(rec["name"]).lower(), str(rec["artist"]).lower())
            if key in seen:  # the same song on several albums
                continue
            seen.add(key)
            song = _song(rec)
            picks.append(SongPick(song, float(score),
                                  f"{genres} -> {describe_song(song.features)}"))
            if len(picks) == k:
                break
        return picks


def _song(rec: pd.Series) -> Song:
    year = rec.get("year")
    pop = rec.get("popularity")
    return Song(track_id=str(rec["track_id"]), name=str(rec["name"]), artist=str(rec["artist"]),
                album=str(rec.get("album") or ""),
                year=int(year) if year is not None and pd.notna(year) else None,
                popularity=int(pop) if pop is not None and pd.notna(pop) else None,
                genres=[str(g) for g in (rec.get("genres") if rec.get("genres") is not None else [])],
                features={c: float(rec[c]) for c in AUDIO + ["tempo", "loudness"]
                          if pd.notna(rec.get(c))})
