"""`VibeIndex`: what the Engine loads to answer /song and /playlist.

Everything a query needs is computed at build time and memory-mapped here (movie and song
vectors, the featured-in table), so a process serving /song starts fast: nothing is
re-embedded at start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engine.artifacts import component_files, read_columns
from engine.errors import DataError, InvalidInput, UnknownTitle
from engine.queries import ResolvedSong, ResolvedVibe, SongQuery
from engine.recommender import check_k
from engine.results import Filters, Movie, Recommendation, Recommendations, Song, SongPick
from engine.retrieval import FilterColumns, Retriever

from .featured import CREDITED_COLUMNS, CreditedSongs, FeaturedIndex
from .mood import genre_prior
from .song_lookup import (
    SongLookup,
    UnknownSong,
    _splits,
    describe_song,
    is_vibe_query,
    parse_vibe,
    song_phrase,
)
from .space import AUDIO, SONG_COLUMNS, VibeSpace, vibe_features

# Measured on the 9,742-movie index (benchmarks/bench_song.py): exact scoring of all
# movies with numpy takes ~0.1 ms, so up to EXACT_MAX items the vectors are scored exactly
# and Annoy is the path for catalogs too big for that.
EXACT_MAX = 200_000
SEARCH_K = 30_000
FETCH_FACTOR = 5
FILES = ["space.npz", "space.json", "movies.ann", "movies_vectors.npy", "movie_ids.npy",
         "songs.parquet", "songs.ann", "songs_vectors.npy", "song_ids.npy", "featured.parquet",
         "lookup_keys.parquet"]
# the song-table columns serving reads (subgenres, key, duration ... are the build's)
SONG_TABLE_COLUMNS = ["track_id", "name", "artist", "album", "year", "popularity", "genres",
                      *AUDIO, "tempo", "loudness"]
MAX_FEATURED = 5        # featured films shown before the vibe list
# MMR: each next movie maximises (1 - MMR_LAMBDA) * score - MMR_LAMBDA * max similarity to
# the ones already picked, over the MMR_POOL best; positions past MMR_DEPTH keep score order
MMR_LAMBDA = 0.35
MMR_POOL = 150
MMR_DEPTH = 50

_GENRE_NOUN = {"Drama": "drama", "Comedy": "comedy", "Thriller": "thriller",
               "Horror": "horror film", "Action": "action film", "Romance": "romance",
               "Documentary": "documentary", "Animation": "animated film", "Crime": "crime film",
               "Sci-Fi": "sci-fi film", "War": "war film", "Musical": "musical",
               "Western": "western", "Adventure": "adventure", "Fantasy": "fantasy",
               "Mystery": "mystery", "Children": "family film", "Film-Noir": "film noir",
               "IMAX": "film"}
# the genre that names a film best when it has several (the rarer, the more telling)
_GENRE_ORDER = ["Musical", "Western", "Film-Noir", "War", "Horror", "Documentary", "Animation",
                "Children", "Sci-Fi", "Fantasy", "Crime", "Thriller", "Mystery", "Romance",
                "Action", "Adventure", "Comedy", "Drama", "IMAX"]


@dataclass(frozen=True)
class ResolvedArtist:
    """An artist named without a song: the query is the artist's typical vibe."""

    artist: str
    songs: int
    example: str
    mood: str

    @property
    def label(self) -> str:
        return f"{self.artist}'s typical vibe"

    def to_json(self) -> dict[str, Any]:
        return {"artist": self.artist, "songs": self.songs, "example": self.example,
                "mood": self.mood}


@dataclass(frozen=True)
class ResolvedCredit:
    """A song the soundtrack credits know but the song table lacks: no audio to hear, so
    /song answers with the films it is featured in and says why there is nothing more."""

    song: str
    credit: str          # "performed by X" / "written by X", as the soundtrack credits say
    mood: str = ""

    @property
    def label(self) -> str:
        return f"{self.song} ({self.credit})"

    def to_json(self) -> dict[str, Any]:
        return {"song": self.song, "credit": self.credit, "in_song_table": False}


def _display_title(name: str) -> str:
    """"Bohemian Rhapsody - 2011 Mix" -> "Bohemian Rhapsody": the version is noise here."""
    return _VERSION.sub("", name).strip() or name


_VERSION = re.compile(r"\s+-\s+.*(?:remaster|version|mix|edit|live|mono|stereo|from|radio|"
                      r"single|soundtrack|\d{4}).*$", re.IGNORECASE)


def song_header(query) -> str:
    """The line above a /song list, the way a person would say it."""
    if isinstance(query, ResolvedSong):
        title = _display_title(query.song)
        label = f"{title} – {query.artist}" if query.artist else title
        return f"Movies with the vibe of {label} ({query.mood}):"
    if isinstance(query, ResolvedArtist):
        return (f"Movies with {query.artist}'s typical vibe ({query.mood}, from "
                f"{query.songs} of their songs). For one song, try /song {query.example}:")
    if isinstance(query, ResolvedCredit):
        return (f"{query.label} is not in my song table, so I can't hear its vibe; "
                "it is featured on these soundtracks:")
    if isinstance(query, ResolvedVibe):
        article = "an" if query.mood[:1].lower() in "aeiou" else "a"
        return f"Movies for {article} {query.mood} mood:"    # "an epic mood"
    return "Movies for that vibe:"


class VibeIndex:
    name: ClassVar[str] = "crossmedia"

    def __init__(self, space: VibeSpace, movies: Retriever, movie_ids: np.ndarray,
                 songs_index: Retriever, songs: Mapping[str, Sequence], catalog,
                 featured: Mapping[str, Sequence] | None = None,
                 keys: Mapping[str, Sequence] | None = None,
                 credited: Mapping[str, Sequence] | None = None):
        """``songs``, ``featured``, ``keys``: tables as columns (``read_columns``) or
        DataFrames; serving reads them as columns, so it never imports pandas."""
        self.space = space
        self.movies = movies          # exact vectors: movies_vectors.npy (mmap)
        self.movie_ids = movie_ids
        self.songs = songs
        self.catalog = catalog
        self.credited = CreditedSongs(credited if credited is not None else {
            name: [] for name in CREDITED_COLUMNS})
        self.lookup = SongLookup(songs, keys, self.credited)
        self.songs_index = songs_index
        self.song_vecs = songs_index.vectors   # songs_vectors.npy (mmap), computed at build
        # plain arrays and lists: a query must not touch pandas (p99 target 2 ms)
        self.audio = np.column_stack([np.asarray(songs[c], dtype=float) for c in AUDIO])
        self._genres = list(songs["genres"])
        self.names = [str(n) for n in songs["name"]]
        self.artists = [str(a) for a in songs["artist"]]
        self.track_ids = [str(t) for t in songs["track_id"]]
        self._words: dict[int, str] = {}
        self.row_of_movie = {int(m): i for i, m in enumerate(movie_ids)}
        self._columns = FilterColumns.of(catalog, movie_ids)
        self.featured = FeaturedIndex(featured if featured is not None else {
            "title_key": [], "artist_key": [], "movie_id": [], "source": []})
        self._featured_source = {} if featured is None else {
            (str(t), str(a), int(m)): str(s) for t, a, m, s in zip(
                featured["title_key"], featured["artist_key"], featured["movie_id"],
                featured["source"], strict=True)}
        self._unit = unit_rows(movies.vectors)      # for MMR similarity

    @classmethod
    def load(cls, dir: Path, catalog) -> VibeIndex:
        files = component_files(dir, cls.name, FILES)
        space = VibeSpace.load(Path(dir))
        options = {"search_k": SEARCH_K, "exact_max": EXACT_MAX}
        movies = Retriever.load(files["movies.ann"], space.dim, "dot", vectors=True,
                                fetch_factor=FETCH_FACTOR, ties="select_always", **options)
        songs_index = Retriever.load(files["songs.ann"], space.dim, "dot", vectors=True, **options)
        songs = read_columns(files["songs.parquet"], SONG_TABLE_COLUMNS)
        song_ids = np.load(files["song_ids.npy"])  # never allow_pickle: a file must not run code
        track_ids = np.array([str(t) for t in songs["track_id"]])
        if (len(song_ids) != len(track_ids) or len(songs_index.vectors) != len(track_ids)
                or (track_ids != song_ids).any()):
            raise DataError(str(files["song_ids.npy"]), "the crossmedia song index does not "
                            "match songs.parquet", "run `moviebot build --only crossmedia`")
        return cls(space, movies, np.load(files["movie_ids.npy"]), songs_index, songs, catalog,
                   read_columns(files["featured.parquet"]),
                   read_columns(files["lookup_keys.parquet"]),
                   # optional: versions built before it existed still load
                   read_columns(dir / "credited.parquet")
                   if (Path(dir) / "credited.parquet").is_file() else None)

    def _genres_of(self, row: int) -> list[str]:
        genres = self._genres[row]
        return [] if genres is None or isinstance(genres, float) else [str(g) for g in genres]

    # -- songs -> movies --------------------------------------------------------------
    def resolve(self, query: SongQuery) -> tuple[Any, np.ndarray, str, int | None]:
        """(resolved query, song vector, song phrase, song row or None) for a query."""
        text = (query.text or "").strip()
        if is_vibe_query(text):
            vibe = parse_vibe(text[4:])
            features = vibe_features(vibe.valence, vibe.energy, **{
                k: v for k, v in vibe.values.items() if k not in ("valence", "energy")})
            known = [c for c in SONG_COLUMNS if c in vibe.values
                     or c in ("valence", "energy", "tempo_z", "loudness_z", "danceability",
                              "acousticness", "instrumentalness", "speechiness", "mode")]
            audio = {"valence": vibe.valence, "energy": vibe.energy, **vibe.values}
            words = vibe.name or describe_song(audio)
            return (ResolvedVibe(vibe.values, words), self.space.embed_vibe(features, known),
                    song_phrase(audio, []), None)
        artist = self.lookup.artist_query(text)
        if artist is not None:
            key, rows = artist
            audio = dict(zip(AUDIO, self.audio[rows].mean(axis=0), strict=True))
            vec = np.asarray(self.song_vecs[rows], dtype=np.float32).mean(axis=0)
            top = rows[0]
            resolved = ResolvedArtist(self.artists[top].split(",")[0], len(rows),
                                      f"{_display_title(self.names[top])} - {self.artists[top]}",
                                      describe_song(audio))
            return resolved, vec, song_phrase(audio, self._genres_of(top)), None
        try:
            row = self.lookup.find(text)
        except UnknownSong:
            credit = self._credited(text)
            if credit is None:
                raise
            return credit[0], np.zeros(self.space.dim, dtype=np.float32), "", None
        words = self._words.get(row)
        if words is None:
            words = self._words[row] = describe_song(dict(zip(AUDIO, self.audio[row], strict=True)))
        phrase = song_phrase(dict(zip(AUDIO, self.audio[row], strict=True)),
                             self._genres_of(row))
        return (ResolvedSong(self.names[row], self.artists[row], self.track_ids[row], words),
                np.asarray(self.song_vecs[row], dtype=np.float32), phrase, row)

    def recommend(self, query: SongQuery, k: int = 10, filters: Filters | None = None,
                  featured: bool = True) -> Recommendations:
        """Movies for a song, a page at a time (the one k rule: 1..MAX_K). ``featured``
        puts the films whose soundtrack credits the song first; evaluation turns it off."""
        check_k(k)
        return self.rank(query, k, filters, featured)

    def rank(self, query: SongQuery, k: int, filters: Filters | None = None,
             featured: bool = True) -> Recommendations:
        """``recommend`` with ``k`` up to the catalog size: the full ranking evaluation
        reads (``Engine.song`` is the way in)."""
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(self.movie_ids):
            raise InvalidInput(f"Please ask for between 1 and {len(self.movie_ids)} movies.")
        resolved, vec, phrase, row = self.resolve(query)
        if isinstance(resolved, ResolvedCredit):
            if not featured:     # the vibe model alone has nothing to go on
                raise UnknownSong(query.text, [], kind="song",
                                  note=f"{resolved.label} is not in my song table.")
            return Recommendations(query=resolved, results=self._credited_films(
                query.text, k, filters), kind="song")
        results: list[Recommendation] = []
        seen: set[int] = set()
        if featured and row is not None:
            for movie in self._featured_movies(row, filters)[:min(k, MAX_FEATURED)]:
                results.append(Recommendation(movie, float(self._score(vec, movie.movie_id)),
                                              self._featured_reason(row, movie)))
                seen.add(movie.movie_id)
        for movie, score in self._ranked(vec, k + len(seen), filters):
            if len(results) == k:
                break
            if movie.movie_id not in seen:
                results.append(Recommendation(movie, score, self._reason(phrase, movie)))
        return Recommendations(query=resolved, results=results, kind="song")

    def explain(self, query: SongQuery, movie: Movie) -> str:
        resolved, _, phrase, row = self.resolve(query)
        if isinstance(resolved, ResolvedCredit):
            return f"Featured in the soundtrack of {movie.title} ({resolved.song}, {resolved.credit})"
        if row is not None and movie.movie_id in self.featured.movies(self.names[row],
                                                                       self.artists[row]):
            return self._featured_reason(row, movie)
        return self._reason(phrase, movie)

    def _credited(self, text: str) -> tuple[ResolvedCredit, list[tuple[str, str, int]]] | None:
        """The credited-only song ``text`` names ("Take Five", "Take Five - Dave
        Brubeck") and its credits, or None."""
        for title, artist in [*_splits(text), (text, "")]:
            entries = self.credited.find(title, artist)
            if entries:
                return ResolvedCredit(_display_title(entries[0][0]), entries[0][1]), entries
        return None

    def _credited_films(self, text: str, k: int, filters: Filters | None
                        ) -> list[Recommendation]:
        resolved, entries = self._credited(text)
        movies = [self.catalog.movie(m) for m in dict.fromkeys(m for _, _, m in entries)
                  if m in self.catalog]
        if filters is not None and not filters.is_empty():
            movies = [m for m in movies if filters.accepts(m)]
        movies.sort(key=lambda m: -(m.rating_count or 0))
        return [Recommendation(m, 0.0, f"Featured in the soundtrack of {m.title} "
                                        f"({resolved.song}, {resolved.credit})")
                for m in movies[:k]]

    def _score(self, vec: np.ndarray, movie_id: int) -> float:
        return float(np.asarray(self.movies.vectors[self.row_of_movie[movie_id]]) @ vec)

    def _featured_movies(self, row: int, filters: Filters | None) -> list[Movie]:
        ids = [m for m in self.featured.movies(self.names[row], self.artists[row])
               if m in self.row_of_movie]
        movies = [self.catalog.movie(m) for m in ids]
        if filters is not None and not filters.is_empty():
            movies = [m for m in movies if filters.accepts(m)]
        # a film the track's own name announces first, then the best known
        rank = {"spotify": 0, "imdb": 1, "spotify-album": 1, "imdb-writer": 2, "imdb-title": 3}
        key = self._source_key(row)
        return sorted(movies, key=lambda m: (rank.get(self._featured_source.get(
            (*key, m.movie_id), ""), 3), -(m.rating_count or 0)))

    def _source_key(self, row: int) -> tuple[str, str]:
        from .soundtracks import _artist_names, norm_title

        artists = _artist_names(self.artists[row]) or [""]
        return norm_title(self.names[row]), artists[0]

    def _featured_reason(self, row: int, movie: Movie) -> str:
        source = self._featured_source.get((*self._source_key(row), movie.movie_id))
        if source == "imdb-title":
            # about 1 in 5 of these is another recording of the song (docs/crossmedia.md)
            return f"Featured in the soundtrack of {movie.title} (the song; IMDb does not name the recording)"
        return f"Featured in the soundtrack of {movie.title}"

    def _ranked(self, vec: np.ndarray, k: int, filters: Filters | None):
        """(movie, score), best first, the first MMR_DEPTH diversified by MMR."""
        filtered = filters is not None and not filters.is_empty()
        n = min(max(k, MMR_POOL), len(self.movie_ids))
        rows, scores = self.movies.search(vec, n, self._columns.mask(filters) if filtered else None)
        order = _mmr(rows, scores, self._unit, min(k, MMR_DEPTH))
        picked = []
        for i in order:
            movie = self.catalog.movie(int(self.movie_ids[rows[i]]))
            if not filtered or filters.accepts(movie):
                picked.append((movie, float(scores[i])))
            if len(picked) == k:
                break
        return picked

    @staticmethod
    def _reason(phrase: str, movie: Movie) -> str:
        """"a slow, melancholic piano piece → a quiet drama from the 1990s"."""
        genres = sorted((g for g in movie.genres if g in _GENRE_NOUN), key=_GENRE_ORDER.index)
        noun = _GENRE_NOUN[genres[0]] if genres else "film"
        valence, arousal = genre_prior(movie.genres)
        mood = ("dark" if arousal >= 0.7 and valence < 0.4 else
                "lively" if arousal >= 0.6 and valence >= 0.6 else
                "tense" if arousal >= 0.7 else
                "quiet" if arousal < 0.5 and valence < 0.5 else
                "gentle" if arousal < 0.5 and valence >= 0.6 else "")
        words = f"{mood} {noun}" if mood and mood not in noun else noun
        era = f" from the {movie.year // 10 * 10}s" if movie.year else ""
        article = "an" if words[0] in "aeiou" else "a"
        return f"{phrase} → {article} {words}{era}"

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
        genres = ", ".join(g.lower() for g in movie.genres[:2]) or "this film"
        picks, seen = [], set()
        for r, score in zip(rows, scores, strict=True):
            key = (self.names[r].lower(), self.artists[r].lower())
            if key in seen:  # the same song on several albums
                continue
            seen.add(key)
            song = _song(self.songs, r)
            picks.append(SongPick(song, float(score),
                                  f"{genres} → {describe_song(song.features)}"))
            if len(picks) == k:
                break
        return picks


def unit_rows(movie_vecs: np.ndarray) -> np.ndarray:
    """Movie vectors without the prior coordinate, scaled to length 1: how alike two
    films are in what songs see in them (MMR's similarity)."""
    vecs = np.asarray(movie_vecs[:, :-1], dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


def served_lists(song_vecs: np.ndarray, movie_vecs: np.ndarray, k: int = 10) -> np.ndarray:
    """(songs, k) movie rows as /song serves them with the featured lookup off."""
    unit = unit_rows(movie_vecs)
    out = []
    for row in np.asarray(song_vecs, dtype=np.float32) @ np.asarray(movie_vecs).T:
        order = np.argsort(-row, kind="stable")[:MMR_POOL]
        out.append(order[_mmr(order, row[order], unit, min(k, MMR_DEPTH))[:k]])
    return np.array(out)


def served_ranks(song_vecs: np.ndarray, movie_vecs: np.ndarray, true_rows: np.ndarray
                 ) -> np.ndarray:
    """1-based rank of movie ``true_rows[i]`` in the list /song serves for song i with the
    featured lookup off: model score order with the first page diversified (MMR)."""
    unit = unit_rows(movie_vecs)
    scores = song_vecs @ movie_vecs.T
    out = np.empty(len(song_vecs), dtype=np.int64)
    for i, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        true_pos = int(np.flatnonzero(order == true_rows[i])[0])
        if true_pos >= 150:      # MMR only reorders the best 150
            out[i] = true_pos + 1
            continue
        served = _mmr(order, row[order], unit, MMR_DEPTH)
        out[i] = served.index(true_pos) + 1
    return out


def spread_of(lists: np.ndarray, n_movies: int) -> tuple[int, float]:
    """(distinct movies, largest share of lists one movie is in) over served lists."""
    counts = np.bincount(np.asarray(lists).ravel(), minlength=n_movies)
    return int((counts > 0).sum()), float(counts.max() / max(len(lists), 1))


def _mmr(rows: np.ndarray, scores: np.ndarray, unit: np.ndarray, depth: int) -> list[int]:
    """Indices into rows: the first ``depth`` by MMR, then the rest in score order."""
    n = len(rows)
    depth = min(depth, n)
    if depth <= 1:
        return list(range(n))
    pool = min(n, MMR_POOL)
    s = np.asarray(scores[:pool], dtype=np.float64)
    spread = s.max() - s.min()
    rel = (s - s.min()) / spread if spread > 0 else np.zeros(pool)
    vecs = unit[rows[:pool]]
    max_sim = np.full(pool, -1.0)
    taken = np.zeros(pool, dtype=bool)
    order = []
    for _ in range(min(depth, pool)):
        gain = (1 - MMR_LAMBDA) * rel - MMR_LAMBDA * np.maximum(max_sim, 0.0)
        gain[taken] = -np.inf
        i = int(np.argmax(gain))
        order.append(i)
        taken[i] = True
        max_sim = np.maximum(max_sim, vecs @ vecs[i])
    return order + [i for i in range(n) if i < pool and not taken[i]] + list(range(pool, n))


def _song(songs: Mapping[str, Sequence], row: int) -> Song:
    """Row ``row`` of the song columns as a `Song`."""
    def get(name: str):
        value = songs[name][row] if name in songs else None
        return None if value is None or (isinstance(value, float) and value != value) else value

    year, pop, genres = get("year"), get("popularity"), get("genres")
    return Song(track_id=str(get("track_id")), name=str(get("name")), artist=str(get("artist")),
                album=str(get("album") or ""),
                year=int(year) if year is not None else None,
                popularity=int(pop) if pop is not None else None,
                genres=[str(g) for g in (genres if genres is not None else [])],
                features={c: float(get(c)) for c in AUDIO + ["tempo", "loudness"]
                          if get(c) is not None})


