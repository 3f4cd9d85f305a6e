"""The BiLSTM's second job: predict each film's audience (co-like) vector from its text.

Targets: the training users' likes (hybrid.like_matrix, the same users whose co-likes the
hybrid serves) with the cold-item films' ratings removed (hybrid_eval.cold_movies), each
film's like-column L2-normalised so that dot products are the co-like cosine, factorised
by a seeded truncated SVD. A film's row of V·S, L2-normalised, is its audience vector:
cosines between those rows approximate co-like cosines at rank ``dim``. Only films with
``MIN_FANS`` or more training fans get a target ("warm"): a film liked by one or two people
has a direction that is noise.

The cold films never get a target, so the cold-item rows of ``moviebot eval content``
judge the encoder on films whose audience it has never seen; validation and test users'
ratings never enter.

``stand_in`` then gives every film one audience vector for the hybrid: the real one where
the film is warm, the encoder's prediction from its text otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .hybrid import like_matrix

MIN_FANS = 5
DIM = 64
QUICK_DIM = 16


@dataclass
class AudienceTargets:
    vectors: np.ndarray   # (n_movies, dim) float32, L2-normalised; zero rows: no target
    warm: np.ndarray      # (n_movies,) bool: has a target

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def audience_targets(ratings: pd.DataFrame, train_users: np.ndarray, movie_ids: np.ndarray,
                     cold_ids: np.ndarray, seed: int, dim: int = DIM,
                     min_fans: int = MIN_FANS) -> AudienceTargets:
    from sklearn.utils.extmath import randomized_svd

    likes = like_matrix(ratings, train_users, movie_ids, cold=cold_ids).astype(np.float64)
    fans = np.asarray(likes.sum(axis=0)).ravel()
    warm = fans >= min_fans
    vectors = np.zeros((len(movie_ids), dim), np.float32)
    if warm.sum() <= dim or likes.shape[0] <= dim:
        return AudienceTargets(vectors, np.zeros(len(movie_ids), bool))
    # each warm film's like-column to unit length: dot products become co-like cosines
    cols = likes[:, np.flatnonzero(warm)] @ sparse.diags(1.0 / np.sqrt(fans[warm]))
    _, s, vt = randomized_svd(cols, n_components=dim, random_state=seed)
    factors = (vt.T * s).astype(np.float32)
    factors /= np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-9)
    vectors[warm] = factors
    return AudienceTargets(vectors, warm)


def stand_in(predicted: np.ndarray, targets: AudienceTargets) -> np.ndarray:
    """The real audience vector where a film has one, the text prediction elsewhere."""
    out = _normalise(predicted)
    out[targets.warm] = targets.vectors[targets.warm]
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32).copy()
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.maximum(norms, 1e-9), 0.0).astype(np.float32)
