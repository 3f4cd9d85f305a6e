"""A denoising autoencoder recommender (Mult-DAE, Liang et al. 2018), served without TensorFlow.

Training lives in ``engine/collab/train_autoencoder.py`` (the only TF code). What is kept
is plain numpy: the encoder folds a user's liked films into a hidden vector h, and the
decoder's weight columns plus bias are the item vectors, so scores = [h, 1] . [W_i, b_i]
is an inner product that Annoy can serve.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import RankingModel, positive_part


class Autoencoder(RankingModel):
    kind = "autoencoder"
    arrays = ("enc_w", "enc_b", "item_factors")
    item_arrays = ("enc_w", "item_factors")

    def __init__(self, hidden: int = 256, dropout: float = 0.5, epochs: int = 60,
                 batch_size: int = 64, l2: float = 1e-5, lr: float = 1e-3, seed: int = 42,
                 **params):
        super().__init__(hidden=hidden, dropout=dropout, epochs=epochs, batch_size=batch_size,
                         l2=l2, lr=lr, seed=seed, **params)

    def fit(self, X: sp.csr_matrix) -> Autoencoder:
        from engine.collab.train_autoencoder import train

        self.enc_w, self.enc_b, dec_w, dec_b = train(positive_part(X), **self.params)
        self.item_factors = np.hstack([dec_w.T, dec_b[:, None]]).astype(np.float32)
        return self

    def user_vector(self, idx: np.ndarray, weight: np.ndarray) -> np.ndarray:
        w = np.asarray(weight, np.float32)
        keep = w > 0                       # the encoder only ever saw liked / watched films
        idx, w = np.asarray(idx)[keep], w[keep]
        norm = np.sqrt((w ** 2).sum())
        if norm == 0:
            return np.zeros(self.item_factors.shape[1], dtype=np.float32)
        h = np.tanh((w / norm) @ np.asarray(self.enc_w[idx]) + self.enc_b)
        return np.append(h, 1.0).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors
