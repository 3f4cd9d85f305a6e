"""No film in every list: per-movie exposure offsets (hubness reduction).

A linear song -> movie score ranks, for almost every song, the same few films at the
corners of the movie cloud first (hubs): before this, one film was in 22-25 % of the
top 10s of random songs and 260 films filled 2,000 slots. Each movie gets one offset,
subtracted from its score, chosen so that over a reference set of random songs it is in at
most ``cap`` of the top-k lists (an iterative, exposure-capped form of per-movie score
normalisation, like inverted softmax / CSLS but aimed at the share users see).

Label-free (song and movie features only, no soundtrack pair), computed at build time and
folded into the movie's prior coordinate, so serving is one dot product as before and a
song's own ranking of a film against another song is unchanged (the offset is per film).
The cap is chosen on the tuning fold (train_space.tune).
"""

from __future__ import annotations

import numpy as np

EXPOSURE_CAPS = (0.02, 0.01, 0.005)   # share of reference songs' top 10s a film may hold
REFERENCE_SONGS = 2000
ITERATIONS = 60


def exposure_offsets(song_vecs: np.ndarray, movie_vecs: np.ndarray, cap: float | None,
                     k: int = 10, iterations: int = ITERATIONS) -> np.ndarray:
    """Per-movie score offsets (>= 0) after which no movie is in more than ``cap`` of the
    top-``k`` lists of ``song_vecs`` (up to a few over, as lowering one film lifts others);
    zeros when ``cap`` is None."""
    offsets = np.zeros(len(movie_vecs), dtype=np.float32)
    if cap is None or not len(song_vecs):
        return offsets
    limit = max(1, int(cap * len(song_vecs)))
    base = np.asarray(song_vecs, dtype=np.float32) @ np.asarray(movie_vecs, dtype=np.float32).T
    k = min(k, base.shape[1])
    for _ in range(iterations):
        scores = base - offsets
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]   # each song's k-th best
        margin = scores - kth[:, None]                          # >= 0: in that top k
        over = (margin >= 0).sum(axis=0) > limit
        if not over.any():
            break
        # lower each over-exposed film just below its (limit+1)-th best song's cut-off
        offsets[over] += -np.sort(-margin[:, over], axis=0)[limit] + 1e-4
    return offsets


def with_offsets(movie_vecs: np.ndarray, offsets: np.ndarray | None,
                 prior_weight: float) -> np.ndarray:
    """Movie vectors whose prior coordinate carries the offsets: every song vector ends
    in ``prior_weight``, so ``song @ movie`` drops by exactly ``offset``."""
    out = np.array(movie_vecs, dtype=np.float32, copy=True)
    if offsets is not None and np.any(offsets):
        if prior_weight <= 0:
            raise ValueError("exposure offsets ride on the prior coordinate: prior weight > 0")
        out[:, -1] -= np.asarray(offsets, dtype=np.float32) / prior_weight
    return out
