"""`VibeIndex`: what the Engine loads to answer /song and /playlist."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from engine.artifacts import component_files
from engine.errors import DataError, UnknownTitle
from engine.queries import ResolvedSong, ResolvedVibe, SongQuery
from engine.recommender import check_k
from engine.results import Filters, Movie, Recommendation, Recommendations, Song, SongPick
from engine.retrieval import FilterColumns, Retriever

from .mood import GENRES
from .song_lookup import SongLookup, Vibe, describe_song, is_vibe_query, parse_vibe
from .space import AUDIO, VibeSpace, song_features, vibe_features

# Measured on the 9,742-movie index (benchmarks/bench_song.py): Annoy's dot metric needs
# search_k 10,000 for recall@10 0.85 (0.7 ms) and 30,000 for 0.985 (2 ms), while exact
# scoring of all movies with numpy takes 0.14 ms. So up to EXACT_MAX items the vectors
# are scored exactly and Annoy is the path for catalogs too big for that.
EXACT_MAX = 200_000
SEARCH_K = 30_000
FETCH_FACTOR = 5  # a filtered query first looks at the 5k best movies, then widens x4
FILES = ["space.npz", "space.json", "movies.ann", "movies_vectors.npy", "movie_ids.npy",
         "songs.parquet",
         "songs.ann", "song_ids.npy"]


class VibeIndex:
    name: ClassVar[str] = "crossmedia"

    def __init__(self, space: VibeSpace, movies: Retriever, movie_ids: np.ndarray,
                 songs_index: Retriever, songs: pd.DataFrame, catalog):
        self.space = space
        self.movies = movies          # exact vectors: movies_vectors.npy (mmap)
        self.movie_ids = movie_ids
        self.songs = songs.reset_index(drop=True)
        self.catalog = catalog
        self.lookup = SongLookup(self.songs)
        # plain arrays and lists: a query must not touch pandas (p99 target 2 ms)
        self.song_vecs = space.embed_songs(song_features(self.songs)).astype(np.float32)
        songs_index.vectors = self.song_vecs
        self.songs_index = songs_index
        self.audio = self.songs[AUDIO].to_numpy(dtype=float)
        self.names = self.songs["name"].astype(str).tolist()
        self.artists = self.songs["artist"].astype(str).tolist()
        self.track_ids = self.songs["track_id"].astype(str).tolist()
        self._words: dict[int, str] = {}
        self.row_of_movie = {int(m): i for i, m in enumerate(movie_ids)}
        self._columns = FilterColumns.of(catalog, movie_ids)
        genre_rows = [space.movie_columns.index(f"g_{g}") for g in GENRES]
        self.genre_proj = space.movie_proj[genre_rows]

    @classmethod
    def load(cls, dir: Path, catalog) -> VibeIndex:
        files = component_files(dir, cls.name, FILES)
        space = VibeSpace.load(Path(dir))
        options = {"search_k": SEARCH_K, "exact_max": EXACT_MAX}
        movies = Retriever.load(files["movies.ann"], space.dim, "dot", vectors=True,
                                fetch_factor=FETCH_FACTOR, ties="select_always", **options)
        songs_index = Retriever.load(files["songs.ann"], space.dim, "dot", **options)
        songs = pd.read_parquet(files["songs.parquet"])
        song_ids = np.load(files["song_ids.npy"])  # never allow_pickle: a file must not run code
        if len(song_ids) != len(songs) or (songs["track_id"].astype(str).to_numpy() != song_ids).any():
            raise DataError(str(files["song_ids.npy"]), "the crossmedia song index does not "
                            "match songs.parquet", "run `moviebot build --only crossmedia`")
        return cls(space, movies, np.load(files["movie_ids.npy"]), songs_index, songs, catalog)

    # -- songs -> movies --------------------------------------------------------------
    def resolve(self, query: SongQuery) -> tuple[ResolvedSong | ResolvedVibe, np.ndarray, str]:
        """(resolved query, song vector in the space, mood words) for a title/id/vibe query."""
        text = (query.text or "").strip()
        if is_vibe_query(text):
            vibe: Vibe = parse_vibe(text[4:])
            features = vibe_features(vibe.valence, vibe.energy, **{
                k: v for k, v in vibe.values.items() if k not in ("valence", "energy")})
            words = describe_song({"valence": vibe.valence, "energy": vibe.energy,
                                   **vibe.values})
            return ResolvedVibe(vibe.values, words), self.space.embed_songs(features)[0], words
        row = self.lookup.find(text)
        words = self._words.get(row)
        if words is None:
            words = self._words[row] = describe_song(dict(zip(AUDIO, self.audio[row], strict=True)))
        return (ResolvedSong(self.names[row], self.artists[row], self.track_ids[row], words),
                self.song_vecs[row], words)

    def recommend(self, query: SongQuery, k: int = 10,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        resolved, vec, words = self.resolve(query)
        genre_rank = self._genre_rank(vec)
        results = [Recommendation(movie, score, self._reason(words, movie, genre_rank))
                   for movie, score in self._nearest_movies(vec, k, filters)]
        return Recommendations(query=resolved, results=results, kind="song")

    def explain(self, query: SongQuery, movie: Movie) -> str:
        _, vec, words = self.resolve(query)
        return self._reason(words, movie, self._genre_rank(vec))

    def _genre_rank(self, vec: np.ndarray) -> dict[str, int]:
        """Genres in the order this song favours them, for the "-> comedy, romance" half."""
        genre_weight = self.genre_proj @ vec
        return {GENRES[i]: r for r, i in enumerate(np.argsort(-genre_weight).tolist())}

    def _nearest_movies(self, vec: np.ndarray, k: int, filters: Filters | None):
        filtered = filters is not None and not filters.is_empty()
        rows, scores = self.movies.search(vec, k, self._columns.mask(filters) if filtered else None)
        picked = []
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            movie = self.catalog.movie(int(self.movie_ids[row]))
            if not filtered or filters.accepts(movie):
                picked.append((movie, float(score)))
        return picked

    @staticmethod
    def _reason(words: str, movie: Movie, genre_rank: dict[str, int]) -> str:
        genres = sorted((g for g in movie.genres if g in genre_rank), key=genre_rank.__getitem__)
        right = ", ".join(g.lower() for g in genres[:2]) or "its mood"
        era = f" ({movie.year // 10 * 10}s)" if movie.year else ""
        return f"{words} -> {right}{era}"

    # -- movie -> songs ---------------------------------------------------------------
    def songs_for_movie(self, movie: Movie, k: int = 10) -> list[SongPick]:
        check_k(k)
        row = self.row_of_movie.get(int(movie.movie_id))
        if row is None:
            raise UnknownTitle(movie.label)
        vec = np.asarray(self.movies.vectors[row], dtype=np.float32)
        # the 3k best songs (asking for one more keeps the tie order of the exact path)
        rows, scores = self.songs_index.top(vec, k * 3 + 1)
        rows, scores = rows[:k * 3].tolist(), scores[:k * 3].tolist()
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
