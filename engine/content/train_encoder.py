"""The BiLSTM text encoder, trained to predict genres and, given audience targets, each
film's audience (co-like) vector (audience.py); its 256-d hidden layer is the embedding.

The audience head is a second output on the same dropout layer: Dense(dim), cosine loss
against the film's L2-normalised co-like factors, on warm films only (a zero target row
means "no target" and costs nothing). Its prediction for every film, including those
nobody has rated, is the "audience-aware" vector the hybrid can use for cold films.

Only the build imports this module, and TensorFlow is imported inside the functions, so
`import engine.content` never pulls TensorFlow into a serving process.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import EpochBar
from .text import Vocab, tokenize

log = logging.getLogger("moviebot.content.encoder")
_MASK_WARNING = r"Layer 'max_pool' .* does not support masking"


@dataclass
class EncoderConfig:
    embed_dim: int = 128
    lstm_units: int = 128
    dense_units: int = 256
    dropout: float = 0.3
    max_len_cap: int = 300       # the upper bound
    max_len_quantile: float = 0.95
    vocab_size: int = 20000
    epochs: int = 12
    patience: int = 2
    batch_size: int = 64
    learning_rate: float = 2e-3
    # Weight each genre's positive examples by sqrt(negatives / positives) in the binary
    # cross-entropy: rare genres (Film-Noir, Western, Documentary) otherwise barely move
    # the loss, and the model learns to predict "no" for them (macro F1 0.33 -> 0.47).
    weight_positives: bool = True
    # the audience head's share of the loss (the genre loss is ~0.3 at the start, 1 - cos ~1)
    audience_weight: float = 1.0
    threads: int = 2
    subset: int | None = None    # train on at most this many movies (quick mode)
    min_movies: int = 50         # fewer labelled texts than this: no encoder (zero vectors)

    @classmethod
    def quick(cls) -> EncoderConfig:
        return cls(embed_dim=16, lstm_units=8, dense_units=32, vocab_size=3000, epochs=2,
                   patience=1, batch_size=128, subset=1200, max_len_cap=48)


@dataclass
class EncoderResult:
    embeddings: np.ndarray        # (n_movies, dense_units) float32; zero rows for empty text
    has_text: np.ndarray          # (n_movies,) bool
    vocab: Vocab
    labels: list[str]
    max_len: int
    metrics: dict[str, float]
    params: dict[str, Any]
    # (n_movies, audience dim) predicted audience vectors; None without audience targets
    audience: np.ndarray | None = None


def choose_max_len(lengths: np.ndarray, cfg: EncoderConfig) -> int:
    """The sequence length covering `max_len_quantile` of the texts, in steps of 8.

    LSTM time is linear in sequence length, and the longest 5 % of texts are long
    overviews whose tail adds little genre signal, so this keeps CPU training short.
    """
    nonzero = lengths[lengths > 0]
    if not len(nonzero):
        return 8
    q = float(np.quantile(nonzero, cfg.max_len_quantile))
    return int(min(cfg.max_len_cap, max(8, 8 * math.ceil(q / 8))))


def positive_weights(y_train: np.ndarray) -> np.ndarray:
    """sqrt(negatives / positives) per label column, never below 1: rare labels count more,
    common ones (or one that never occurs) keep the plain weight."""
    positives = y_train.sum(axis=0)
    negatives = len(y_train) - positives
    ratio = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    return np.maximum(1.0, np.sqrt(ratio)).astype("float32")


def weighted_binary_crossentropy(pos_weight: np.ndarray):
    """Binary cross-entropy per label with the positive term scaled by ``pos_weight``."""
    import tensorflow as tf

    weight = tf.constant(pos_weight, dtype=tf.float32)

    def loss(y_true, y_pred):
        p = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        y_true = tf.cast(y_true, tf.float32)
        per_label = weight * y_true * tf.math.log(p) + (1.0 - y_true) * tf.math.log(1.0 - p)
        return -tf.reduce_mean(per_label, axis=-1)
    return loss


def masked_cosine_loss(y_true, y_pred):
    """1 - cos(target, prediction) for rows with a target; a zero target row (a film with
    too few fans, or a cold one) contributes nothing. Rescaled so that the batch mean Keras
    takes is the mean over the rows with a target: only ~1 film in 5 has one, and the
    head's share of the loss should not shrink with that."""
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.float32)
    has = tf.cast(tf.reduce_sum(tf.square(y_true), axis=-1) > 0, tf.float32)
    cos = tf.reduce_sum(tf.math.l2_normalize(y_true, -1) * tf.math.l2_normalize(y_pred, -1), -1)
    share = tf.maximum(tf.reduce_mean(has), 1e-6)
    return has * (1.0 - cos) / share


def build_model(vocab_size: int, max_len: int, n_labels: int, cfg: EncoderConfig,
                pos_weight: np.ndarray | None = None, audience_dim: int = 0):
    import keras
    from keras import layers

    inputs = keras.Input(shape=(max_len,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, cfg.embed_dim, mask_zero=True, name="embedding")(inputs)
    x = layers.Bidirectional(layers.LSTM(cfg.lstm_units, return_sequences=True), name="bilstm")(x)
    # Max pooling ignores the mask: with the mask the forward LSTM repeats its last real
    # output over the padding and the backward one outputs zeros there, so the max is
    # over real steps (and 0), so Keras's warning about the dropped mask is silenced
    # (around all of training: it fires again whenever fit/predict trace the graph).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MASK_WARNING)
        x = layers.GlobalMaxPooling1D(name="max_pool")(x)
    x = layers.Dense(cfg.dense_units, activation="relu", name="movie_embedding")(x)
    x = layers.Dropout(cfg.dropout, name="dropout")(x)
    outputs = layers.Dense(n_labels, activation="sigmoid", name="genres")(x)
    genre_loss = ("binary_crossentropy" if pos_weight is None
                  else weighted_binary_crossentropy(pos_weight))
    if not audience_dim:
        model = keras.Model(inputs, outputs, name="bilstm_genre_encoder")
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=genre_loss,
                      metrics=[keras.metrics.AUC(multi_label=True, name="auc")])
        return model
    audience = layers.Dense(audience_dim, name="audience")(x)
    model = keras.Model(inputs, {"genres": outputs, "audience": audience},
                        name="bilstm_genre_audience_encoder")
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss={"genres": genre_loss, "audience": masked_cosine_loss},
                  loss_weights={"genres": 1.0, "audience": cfg.audience_weight},
                  metrics={"genres": [keras.metrics.AUC(multi_label=True, name="auc")]})
    return model


_THRESHOLDS = np.arange(0.05, 0.96, 0.05)


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray = _THRESHOLDS) -> np.ndarray:
    """Per-genre decision threshold maximising that genre's F1 on the given (validation) movies.

    A genre never seen positive there keeps 0.5.
    """
    from sklearn.metrics import f1_score

    out = np.full(y_true.shape[1], 0.5)
    for j in range(y_true.shape[1]):
        if y_true[:, j].any():
            scores = [f1_score(y_true[:, j], probs[:, j] >= t, zero_division=0) for t in grid]
            out[j] = grid[int(np.argmax(scores))]
    return out


def _no_encoder(tokens, lengths, has_text, cfg: EncoderConfig, seed: int,
                audience: np.ndarray | None, why: str) -> EncoderResult:
    log.warning("content encoder skipped: %s", why)
    vocab = Vocab.build(tokens, max_size=cfg.vocab_size)
    embeddings = np.zeros((len(tokens), cfg.dense_units), dtype=np.float32)
    params = {**asdict(cfg), "max_len": choose_max_len(lengths, cfg), "vocab_len": len(vocab),
              "n_labels": 0, "seed": seed, "skipped": why}
    return EncoderResult(embeddings, has_text, vocab, [], params["max_len"],
                         {"encoder_skipped": 1, "n_train_movies": 0, "n_test_movies": 0}, params,
                         None if audience is None else np.zeros_like(audience, dtype=np.float32))


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    return {"genre_f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "genre_f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def train_encoder(texts: list[str], genres: list[list[str]], cfg: EncoderConfig | None = None,
                  seed: int = 42, progress: bool = True,
                  audience: np.ndarray | None = None,
                  weights_out: Path | None = None) -> EncoderResult:
    """Fit the genre model on movies that have text; embed every movie.

    ``weights_out`` (a ``*.weights.h5`` path): the trained weights are kept there, so films
    added later (catalog updates) are embedded by this same model (``encode``).

    Movies are split 80/10/10 (seeded): train, validation (early stopping and the
    checkpoint), and held-out test movies for the reported genre F1 (and, with
    ``audience`` targets, the mean cosine of predicted to real audience vectors).
    """
    cfg = cfg or EncoderConfig()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # errors only (moviebot build -v: all)
    import keras
    import tensorflow as tf
    from sklearn.preprocessing import MultiLabelBinarizer

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process (tests); keep its settings
        pass

    tokens = [tokenize(t) for t in texts]
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    has_text = lengths > 0
    labelled = np.flatnonzero(has_text & np.array([len(g) > 0 for g in genres], dtype=bool))
    rng = np.random.default_rng(seed)
    rng.shuffle(labelled)
    if cfg.subset:
        labelled = labelled[: cfg.subset]
    n_classes = len({g for i in labelled for g in genres[i]})
    if len(labelled) < cfg.min_movies or n_classes < 2:
        # e.g. a data dir without TMDB/IMDb metadata: (almost) no overviews to learn from.
        # Every movie then gets a zero text vector and fusion falls back to the other blocks.
        return _no_encoder(tokens, lengths, has_text, cfg, seed, audience,
                           f"{len(labelled)} movies with text and genres (< {cfg.min_movies}) "
                           f"or {n_classes} genre(s)")
    n_val = n_test = max(1, len(labelled) // 10)
    test_idx, val_idx, train_idx = (labelled[:n_test], labelled[n_test:n_test + n_val],
                                    labelled[n_test + n_val:])

    vocab = Vocab.build((tokens[i] for i in train_idx), max_size=cfg.vocab_size)
    max_len = choose_max_len(lengths, cfg)
    binarizer = MultiLabelBinarizer()
    binarizer.fit([genres[i] for i in labelled])
    labels = [str(c) for c in binarizer.classes_]
    X = vocab.encode_many(tokens, max_len)
    Y = binarizer.transform(genres).astype("float32")
    use_audience = audience is not None and bool(np.abs(audience[train_idx]).sum())
    if use_audience:
        A = np.asarray(audience, dtype="float32")
        targets = lambda idx: {"genres": Y[idx], "audience": A[idx]}  # noqa: E731
    else:
        targets = lambda idx: Y[idx]  # noqa: E731

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MASK_WARNING)
        weights = positive_weights(Y[train_idx]) if cfg.weight_positives else None
        model = build_model(len(vocab), max_len, len(labels), cfg, weights,
                            audience_dim=A.shape[1] if use_audience else 0)
        with tempfile.TemporaryDirectory() as tmp:
            best = Path(tmp) / "best.weights.h5"
            callbacks = [
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                              restore_best_weights=False),
                keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True,
                                                save_weights_only=True),
            ]
            bar = EpochBar(cfg.epochs, "content encoder", disable=not progress)
            # Keras' own bars (ANSI codes, on stdout) stay off: one tqdm bar on stderr
            history = model.fit(X[train_idx], targets(train_idx),
                                validation_data=(X[val_idx], targets(val_idx)),
                                epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True,
                                callbacks=[*callbacks, bar.callback(keras)], verbose=0)
            bar.close()
            model.load_weights(str(best))  # the checkpoint with the lowest validation loss
        if weights_out is not None:
            model.save_weights(str(weights_out))

        def genre_probs(idx):
            out = model.predict(X[idx], batch_size=256, verbose=0)
            return out["genres"] if use_audience else out

        probs = genre_probs(test_idx)
        metrics = _f1(Y[test_idx].astype(int), (probs >= 0.5).astype(int))
        # Rare genres rarely reach 0.5, which is what keeps macro F1 low; per-genre
        # thresholds chosen on the validation movies (never the test ones) fix the decision
        # rule without touching the embedding.
        thresholds = tune_thresholds(Y[val_idx].astype(int), genre_probs(val_idx))
        tuned = _f1(Y[test_idx].astype(int), (probs >= thresholds).astype(int))
        metrics.update({f"{k}_tuned": v for k, v in tuned.items()})
        val_losses = history.history["val_loss"]
        metrics.update({"best_val_loss": float(min(val_losses)), "epochs_run": len(val_losses),
                        "best_epoch": int(np.argmin(val_losses)) + 1,
                        "n_train_movies": int(len(train_idx)), "n_test_movies": int(len(test_idx))})

        embedder = keras.Model(model.input, model.get_layer("movie_embedding").output)
        embeddings = embedder.predict(X, batch_size=256, verbose=0).astype(np.float32)
        predicted = None
        if use_audience:
            predicted = model.predict(X, batch_size=256, verbose=0)["audience"].astype(np.float32)
            metrics.update(_audience_fit(predicted, A, train_idx, test_idx))
    # An empty text would embed as the bias alone: the same vector for every such movie,
    # which would make them all "similar"; zero rows let fusion fall back to metadata.
    embeddings[~has_text] = 0.0
    if predicted is not None:
        predicted[~has_text] = 0.0
    params = {**asdict(cfg), "max_len": max_len, "vocab_len": len(vocab), "n_labels": len(labels),
              "seed": seed, "thresholds": [round(float(t), 2) for t in thresholds],
              "audience_dim": int(A.shape[1]) if use_audience else 0,
              "positive_weights": ([round(float(w), 2) for w in weights] if weights is not None else None)}
    log.info("encoder: %d epochs, best val loss %.4f", metrics["epochs_run"],
             metrics["best_val_loss"])
    log.debug("encoder metrics: %s", metrics)
    return EncoderResult(embeddings, has_text, vocab, labels, max_len, metrics, params, predicted)


def encode(texts: list[str], vocab_path: Path, weights_path: Path, params: dict[str, Any]
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """(embeddings, predicted audience or None) of ``texts`` by a build's trained encoder
    (its vocab.json, encoder.weights.h5 and the manifest's encoder params): inference only,
    for films added after the build. Empty texts get zero rows, as in training."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import json

    import keras

    saved = json.loads(Path(vocab_path).read_text())
    vocab, max_len = Vocab(saved["words"]), int(saved.get("max_len") or params["max_len"])
    names = set(EncoderConfig.__dataclass_fields__)
    cfg = EncoderConfig(**{k: v for k, v in params.items() if k in names})
    audience_dim = int(params.get("audience_dim", 0))
    tokens = [tokenize(t) for t in texts]
    has_text = np.array([len(t) > 0 for t in tokens], dtype=bool)
    X = vocab.encode_many(tokens, max_len)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MASK_WARNING)
        # the saved file also holds the trained optimizer's state, which inference skips
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = build_model(len(vocab), max_len, int(params["n_labels"]), cfg,
                            audience_dim=audience_dim)
        model.load_weights(str(weights_path))
        embedder = keras.Model(model.input, model.get_layer("movie_embedding").output)
        embeddings = embedder.predict(X, batch_size=256, verbose=0).astype(np.float32)
        predicted = (model.predict(X, batch_size=256, verbose=0)["audience"].astype(np.float32)
                     if audience_dim else None)
    embeddings[~has_text] = 0.0
    if predicted is not None:
        predicted[~has_text] = 0.0
    return embeddings, predicted


def _audience_fit(predicted: np.ndarray, target: np.ndarray, train_idx: np.ndarray,
                  test_idx: np.ndarray) -> dict[str, float]:
    """Mean cosine of prediction to real audience vector on training and held-out warm
    films, and the same for a prediction that is every training target's mean (the
    trivial baseline a regression head must beat)."""
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)

    out = {}
    mean = unit(target[train_idx][np.abs(target[train_idx]).sum(axis=1) > 0].mean(axis=0))
    for name, idx in (("train", train_idx), ("test", test_idx)):
        idx = idx[np.abs(target[idx]).sum(axis=1) > 0]
        if len(idx):
            out[f"audience_cos_{name}"] = float((unit(predicted[idx]) * target[idx]).sum(1).mean())
            out[f"audience_cos_{name}_mean_baseline"] = float((target[idx] @ mean).mean())
            out[f"audience_n_{name}"] = int(len(idx))
    return out
