"""The shared vibe space: songs and movies as vectors whose dot product says "fits".

A learned bilinear map ``score(song, movie) = s^T W m`` (fitted in ``train_space.py``) is
factorised as ``W = A B^T``, so a song becomes ``s A`` and a movie ``m B``: both live in
the same ``dim``-dimensional space and an Annoy dot-product index over the movies answers
a song query. ``s`` and ``m`` end with a constant 1, which lets the map also learn a
per-movie prior (how likely any song is to be in this movie's soundtrack) and keeps it
honest about popularity instead of hiding it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError

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


def with_bias(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])


@dataclass
class VibeSpace:
    """The fitted projections. ``song_proj``: (len(SONG_COLUMNS)+1, dim),
    ``movie_proj``: (n_movie_features+1, dim); movie feature names are kept for reasons."""

    song_proj: np.ndarray
    movie_proj: np.ndarray
    movie_columns: list[str]
    params: dict

    @property
    def dim(self) -> int:
        return self.song_proj.shape[1]

    def embed_songs(self, features: np.ndarray) -> np.ndarray:
        return with_bias(features) @ self.song_proj

    def embed_movies(self, features: np.ndarray) -> np.ndarray:
        return with_bias(features) @ self.movie_proj

    def movie_weights(self, song_vec: np.ndarray) -> dict[str, float]:
        """How much each movie feature adds to the score for this song (for reasons)."""
        contrib = self.movie_proj[:-1] @ np.asarray(song_vec, dtype=np.float32)
        return dict(zip(self.movie_columns, contrib.tolist(), strict=True))

    def save(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        np.savez(directory / "space.npz", song_proj=self.song_proj, movie_proj=self.movie_proj)
        (directory / "space.json").write_text(json.dumps(
            {"movie_columns": self.movie_columns, "song_columns": SONG_COLUMNS,
             "params": self.params}, indent=1, default=str))
        return [directory / "space.npz", directory / "space.json"]

    @classmethod
    def load(cls, directory: Path) -> VibeSpace:
        directory = Path(directory)
        arrays = np.load(directory / "space.npz")
        meta = json.loads((directory / "space.json").read_text())
        if meta["song_columns"] != SONG_COLUMNS:
            raise DataError(str(directory / "space.json"), "the crossmedia space was built by "
                            "an older version", "run `moviebot build --only crossmedia`")
        return cls(arrays["song_proj"], arrays["movie_proj"], meta["movie_columns"],
                   meta["params"])


def movie_features(mood: pd.DataFrame, years) -> pd.DataFrame:
    """The space's movie input: mood features plus a soft year basis (matches song years)."""
    basis = pd.DataFrame(year_basis(np.asarray(pd.to_numeric(pd.Series(years), errors="coerce"),
                                               dtype=float)),
                         index=mood.index, columns=[f"my_{y}" for y in YEAR_CENTERS])
    return pd.concat([mood, basis], axis=1).astype(np.float32)
