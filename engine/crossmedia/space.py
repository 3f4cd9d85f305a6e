"""The shared vibe space: songs and movies as vectors whose dot product says "fits".

The model (fitted in ``train_space.py``) is ``score(song, movie) = s_z W m_z + w * prior(m)``
over standardised features: ``W`` is the song's own effect, ``prior`` how likely any song
is to be on this movie's soundtrack, and ``w`` a small weight chosen on the tuning fold.
A song becomes ``[s_z W, w]`` and a movie ``[m_z, prior(m)]``: their dot product is the
score, so one exact (or Annoy) dot-product index over the movies answers a song query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

# Song audio features as Spotify defines them, and how each is put on a ~[0, 1] scale.
AUDIO = ["valence", "energy", "danceability", "acousticness", "instrumentalness",
         "speechiness", "liveness", "mode"]
SONG_GENRES = ["pop", "rock", "rap", "r&b", "latin", "edm", "jazz", "classical", "other"]
# the 2024 dataset's playlist genres folded into the six TidyTuesday ones where obvious
_GENRE_ALIASES = {"hip-hop": "rap", "hip hop": "rap", "electronic": "edm", "soul": "r&b",
                  "blues": "jazz", "reggaeton": "latin", "metal": "rock", "punk": "rock",
                  "indie": "rock", "folk": "rock", "country": "rock"}
# TidyTuesday playlist subgenres: finer than genres, and era-laden ("classic rock",
# "new jack swing"), which is much of what ties a song to a film's soundtrack
SONG_SUBGENRES = ["album rock", "classic rock", "hard rock", "permanent wave", "new jack swing",
                  "urban contemporary", "neo soul", "hip hop", "gangster rap", "southern hip hop",
                  "trap", "hip pop", "dance pop", "post-teen pop", "electropop",
                  "indie poptimism", "pop edm", "electro house", "big room",
                  "progressive electro house", "tropical", "latin pop", "latin hip hop",
                  "reggaeton"]
YEAR_CENTERS = list(range(1950, 2030, 5))  # radial basis over release years
YEAR_WIDTH = 6.0


def year_basis(years: np.ndarray) -> np.ndarray:
    """Soft one-hot of a year over YEAR_CENTERS; a missing year is all zeros."""
    years = np.asarray(years, dtype=float)
    basis = np.exp(-0.5 * ((years[:, None] - np.array(YEAR_CENTERS)[None, :]) / YEAR_WIDTH) ** 2)
    # far centres would hold 1e-40-ish values: float32 denormals, which make every dot
    # product with the movie vectors ~50x slower
    basis[basis < 1e-6] = 0.0
    basis[np.isnan(years)] = 0.0
    return basis / np.maximum(basis.sum(axis=1, keepdims=True), 1e-9)


def song_genre(genres) -> list[str]:
    out = set()
    for g in list(genres) if genres is not None else []:
        g = str(g).lower()
        g = _GENRE_ALIASES.get(g, g)
        out.add(g if g in SONG_GENRES else "other")
    return sorted(out)


SONG_COLUMNS = (AUDIO + ["tempo_z", "loudness_z", "popularity", "has_year"]
                + [f"sg_{g}" for g in SONG_GENRES] + [f"ss_{g}" for g in SONG_SUBGENRES]
                + [f"sy_{y}" for y in YEAR_CENTERS])


def song_features(songs: pd.DataFrame) -> np.ndarray:
    """SONG_COLUMNS for each row of a songs table (ARCHITECTURE columns), float32."""
    import pandas as pd

    n = len(songs)
    cols = [songs[c].astype(float).fillna(0.5 if c != "mode" else 1.0).clip(0, 1).to_numpy()
            for c in AUDIO]
    cols.append(((songs["tempo"].astype(float).fillna(120.0) - 120.0) / 30.0).clip(-3, 3).to_numpy())
    cols.append(((songs["loudness"].astype(float).fillna(-8.0) + 8.0) / 4.0).clip(-4, 3).to_numpy())
    cols.append((songs["popularity"].astype(float).fillna(0.0) / 100.0).to_numpy())
    years = pd.to_numeric(songs["year"], errors="coerce").astype(float).to_numpy()
    cols.append((~np.isnan(years)).astype(float))
    genre_sets = [set(song_genre(g)) for g in songs["genres"]]
    for genre in SONG_GENRES:
        cols.append(np.array([float(genre in gs) for gs in genre_sets]))
    sub_sets = [set(map(str, g)) if g is not None else set() for g in songs["subgenres"]]
    for sub in SONG_SUBGENRES:
        cols.append(np.array([float(sub in ss) for ss in sub_sets]))
    out = np.column_stack(cols + [year_basis(years)]) if n else np.zeros((0, len(SONG_COLUMNS)))
    return out.astype(np.float32)


def vibe_features(valence: float, energy: float, **extra: float) -> np.ndarray:
    """SONG_COLUMNS for a vibe typed by hand (`/song vibe energy=0.8 valence=0.2`).

    Unspecified audio features sit at their neutral middle; genre and year stay unknown.
    """
    row = {c: 0.0 for c in SONG_COLUMNS}
    row.update({"valence": valence, "energy": energy, "danceability": 0.5, "acousticness": 0.3,
                "instrumentalness": 0.1, "speechiness": 0.08, "liveness": 0.15, "mode": 1.0,
                "popularity": 0.5})
    for key, value in extra.items():
        if key == "tempo":
            row["tempo_z"] = float(np.clip((value - 120.0) / 30.0, -3, 3))
        elif key == "loudness":
            row["loudness_z"] = float(np.clip((value + 8.0) / 4.0, -4, 3))
        elif key in row:
            row[key] = float(value)
    return np.array([row[c] for c in SONG_COLUMNS], dtype=np.float32)



# Which part of the model each column feeds (train_space.structure pairs equal blocks).
_SONG_AUDIO = set(AUDIO) | {"tempo_z", "loudness_z"}
_MOVIE_MOOD = {"prior_valence", "prior_arousal", "sent_compound", "sent_pos", "sent_neg",
               "kw_valence", "kw_arousal", "runtime_z", "short", "long"}
# the prior's alone: popularity and absolute era say "often on soundtracks", not "fits this song"
_MOVIE_PRIOR_ONLY = ("pop_log", "votes_log", "ratings_log", "vote_avg", "has_text", "year_z",
                     "decade_")
LANGUAGES = ["en", "fr", "es", "it", "de", "ja", "ko", "hi", "zh", "ru", "sv", "pt"]


def year_of_basis(x: np.ndarray, columns: list[str], prefix: str = "my_") -> np.ndarray:
    """The year a soft year basis encodes (its weighted centre); NaN where it is all zero."""
    idx = [i for i, c in enumerate(columns) if c.startswith(prefix)]
    centres = np.array([float(columns[i][len(prefix):]) for i in idx])
    basis = np.asarray(x, dtype=float)[:, idx]
    total = basis.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        years = basis @ centres / total
    years[total <= 1e-9] = np.nan
    return years


def song_block(column: str) -> str | None:
    if column.startswith("sy_"):
        return "year"
    if column.startswith(("sg_", "ss_")):
        return "genre"
    if column in _SONG_AUDIO:
        return "audio"
    return None


def movie_block(column: str) -> str | None:
    if column.startswith("my_"):
        return "year"
    if column.startswith(("g_", "lang_")):
        return "genre"
    if column.startswith(_MOVIE_PRIOR_ONLY):
        return None
    return "audio"    # mood columns, and any other movie feature a caller brings


def with_bias(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])


@dataclass
class VibeSpace:
    """The fitted model as two projections into one space.

    ``song_proj``: (len(SONG_COLUMNS)+1, dim) applied to the standardised song features
    with a 1 appended; ``movie_proj``: (n_movie_features+1, dim) likewise for movies. The
    last coordinate is the prior: the movie's prior logit times the song's prior weight.
    """

    song_proj: np.ndarray
    movie_proj: np.ndarray
    movie_columns: list[str]
    params: dict
    song_mean: np.ndarray
    song_scale: np.ndarray
    movie_mean: np.ndarray
    movie_scale: np.ndarray
    vibe_proj: np.ndarray | None = None   # song_proj for typed vibes (sound only)

    @classmethod
    def assemble(cls, W, prior, prior_weight, song_mean, song_scale, movie_mean, movie_scale,
                 movie_columns, params, W_vibe=None) -> VibeSpace:
        ds, dm = W.shape

        def song_side(weights):
            proj = np.zeros((ds + 1, dm + 1), dtype=np.float32)
            proj[:ds, :dm] = weights
            proj[ds, dm] = prior_weight
            return proj

        song_proj = song_side(W)
        movie_proj = np.zeros((dm + 1, dm + 1), dtype=np.float32)
        movie_proj[:dm, :dm] = np.eye(dm)
        movie_proj[:, dm] = prior
        # movie features no song weight touches (popularity, decades ...) only cost time:
        # a query scores 9,742 movies, and 74 dimensions run 3-4x slower than 25 on a
        # loaded box (cache misses), so the space keeps the used ones and the prior
        used = np.flatnonzero(np.any(W != 0, axis=0) | (np.any(W_vibe != 0, axis=0)
                                                       if W_vibe is not None else False))
        keep = np.append(used, dm)
        movie_proj = movie_proj[:, keep]
        song_proj = song_proj[:, keep]
        f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        return cls(song_proj, movie_proj, list(movie_columns), params, f32(song_mean),
                   f32(song_scale), f32(movie_mean), f32(movie_scale),
                   song_side(W if W_vibe is None else W_vibe)[:, keep])

    @property
    def dim(self) -> int:
        return self.song_proj.shape[1]

    @property
    def prior_weight(self) -> float:
        return float(self.song_proj[-1, -1])

    def embed_songs(self, features: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(np.asarray(features, dtype=np.float32)) - self.song_mean) / self.song_scale
        return with_bias(z) @ self.song_proj

    def embed_vibe(self, features: np.ndarray, known: list[str]) -> np.ndarray:
        """A typed vibe: only the ``known`` columns come from it; the rest (genre, year)
        sit at the training mean, so they add nothing either way."""
        row = self.song_mean.copy()
        for name in known:
            i = SONG_COLUMNS.index(name)
            row[i] = features[i]
        z = (row - self.song_mean) / self.song_scale
        proj = self.song_proj if self.vibe_proj is None else self.vibe_proj
        return (with_bias(z) @ proj)[0]

    def embed_movies(self, features: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(np.asarray(features, dtype=np.float32)) - self.movie_mean) / self.movie_scale
        return with_bias(z) @ self.movie_proj

    def scores(self, song_x: np.ndarray, movie_x: np.ndarray,
               prior_weight: float | None = None) -> np.ndarray:
        """(songs, movies) model scores; ``prior_weight`` overrides the fitted one."""
        songs = self.embed_songs(song_x)
        if prior_weight is not None:
            songs[:, -1] = prior_weight
        return songs @ self.embed_movies(movie_x).T

    def movie_weights(self, song_vec: np.ndarray) -> dict[str, float]:
        """How much each movie feature adds to the score for this song (for reasons)."""
        contrib = self.movie_proj[:-1] @ np.asarray(song_vec, dtype=np.float32)
        return dict(zip(self.movie_columns, contrib.tolist(), strict=True))

    def save(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        np.savez(directory / "space.npz", song_proj=self.song_proj, movie_proj=self.movie_proj,
                 vibe_proj=self.song_proj if self.vibe_proj is None else self.vibe_proj,
                 song_mean=self.song_mean, song_scale=self.song_scale,
                 movie_mean=self.movie_mean, movie_scale=self.movie_scale)
        (directory / "space.json").write_text(json.dumps(
            {"movie_columns": self.movie_columns, "song_columns": SONG_COLUMNS,
             "params": self.params}, indent=1, default=str))
        return [directory / "space.npz", directory / "space.json"]

    @classmethod
    def load(cls, directory: Path) -> VibeSpace:
        directory = Path(directory)
        arrays = np.load(directory / "space.npz")
        meta = json.loads((directory / "space.json").read_text())
        if meta["song_columns"] != SONG_COLUMNS or "vibe_proj" not in arrays:
            raise DataError(str(directory / "space.json"), "the crossmedia space was built by "
                            "an older version", "run `moviebot build --only crossmedia`")
        return cls(arrays["song_proj"], arrays["movie_proj"], meta["movie_columns"],
                   meta["params"], arrays["song_mean"], arrays["song_scale"],
                   arrays["movie_mean"], arrays["movie_scale"], arrays["vibe_proj"])


def movie_features(mood: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """The model's movie input: mood features, a soft year basis (matches song years) and
    the original language, indexed like ``mood`` (movie_id, catalog order)."""
    import pandas as pd

    years = np.asarray(pd.to_numeric(catalog["year"], errors="coerce"), dtype=float)
    basis = pd.DataFrame(year_basis(years), index=mood.index,
                         columns=[f"my_{y}" for y in YEAR_CENTERS])
    lang = catalog["original_language"] if "original_language" in catalog else pd.Series(
        [""] * len(catalog))
    lang = lang.fillna("").astype(str).to_numpy()
    langs = pd.DataFrame({f"lang_{code}": (lang == code).astype(float) for code in LANGUAGES},
                         index=mood.index)
    return pd.concat([mood, basis, langs], axis=1).astype(np.float32)
