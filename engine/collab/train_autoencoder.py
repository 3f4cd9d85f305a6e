"""TensorFlow training of the denoising autoencoder (see models/autoencoder.py).

Input: a user's liked films, L2-normalised, with input dropout (the "denoising").
Output: a softmax over all films; the loss is the multinomial log-likelihood of the
user's films. TensorFlow is imported inside ``train`` so nothing that serves imports it.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from ..progress import EpochBar


def train(X: sp.csr_matrix, hidden: int = 256, dropout: float = 0.5, epochs: int = 60,
          batch_size: int = 64, l2: float = 1e-5, lr: float = 1e-3, seed: int = 42,
          threads: int | None = None, **_) -> tuple[np.ndarray, ...]:
    """Returns (encoder W, encoder b, decoder W, decoder b) as float32 numpy arrays."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # errors only
    import tensorflow as tf

    threads = threads or int(os.environ.get("MOVIEBOT_TF_THREADS", "2"))
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(seed)

    X = X.tocsr().astype(np.float32)
    rows = X[np.diff(X.indptr) > 0]
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    Xn = (sp.diags(1.0 / norms) @ rows).tocsr()

    n_items = X.shape[1]
    reg = tf.keras.regularizers.l2(l2)
    inputs = tf.keras.Input(shape=(n_items,))
    x = tf.keras.layers.Dropout(dropout)(inputs)
    enc = tf.keras.layers.Dense(hidden, activation="tanh", kernel_regularizer=reg, name="enc")
    dec = tf.keras.layers.Dense(n_items, kernel_regularizer=reg, name="dec")
    logits = dec(enc(x))
    model = tf.keras.Model(inputs, logits)

    def multinomial_nll(y_true, y_pred):
        return -tf.reduce_sum(tf.nn.log_softmax(y_pred) * tf.cast(y_true > 0, tf.float32), axis=-1)

    model.compile(optimizer=tf.keras.optimizers.Adam(lr), loss=multinomial_nll)
    # dense batches cut from the sparse matrix: memory stays batch x items at any scale
    rng = np.random.default_rng(seed)
    bar = EpochBar(epochs, "collab autoencoder")  # on stderr, only on a terminal
    for _ in range(epochs):
        order = rng.permutation(Xn.shape[0])
        for start in range(0, len(order), batch_size):
            batch = Xn[order[start:start + batch_size]].toarray()
            model.train_on_batch(batch, batch)
        bar.update()
    bar.close()
    enc_w, enc_b = enc.get_weights()
    dec_w, dec_b = dec.get_weights()
    return (enc_w.astype(np.float32), enc_b.astype(np.float32),
            dec_w.astype(np.float32), dec_b.astype(np.float32))
