"""The hand-defined mapping: song (valence, energy) -> movie (valence, arousal), no learning.

A movie's mood is its genre prior (mood.GENRE_MOOD) nudged by keywords and by the
sentiment of its overview; a song's is Spotify's valence and energy. The closer the two
points, the better the fit. It is the baseline the learned space must beat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def movie_valence_arousal(mood: pd.DataFrame) -> np.ndarray:
    """(n, 2) in [0, 1] from mood.movie_mood_features columns."""
    valence = mood["prior_valence"] + 0.5 * mood["kw_valence"] + 0.15 * mood["sent_compound"]
    arousal = mood["prior_arousal"] + 0.5 * mood["kw_arousal"] - 0.1 * mood["runtime_z"]
    return np.column_stack([valence.clip(0, 1), arousal.clip(0, 1)]).astype(np.float32)


def song_valence_arousal(songs: pd.DataFrame) -> np.ndarray:
    return np.column_stack([songs["valence"].astype(float).fillna(0.5),
                            songs["energy"].astype(float).fillna(0.5)]).astype(np.float32)


def scores(song_va: np.ndarray, movie_va: np.ndarray) -> np.ndarray:
    """(songs, movies) negative squared distance: higher fits better."""
    diff = song_va[:, None, :] - movie_va[None, :, :]
    return -(diff ** 2).sum(axis=2)
