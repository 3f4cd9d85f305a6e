"""The BiLSTM encoder: architecture as specified, and reproducible for a given seed."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_architecture_matches_the_issue(quick_artifacts):
    # quick_artifacts first: building a model initialises TensorFlow, after which other
    # stages of the session build can no longer set their thread counts
    from engine.content.train_encoder import EncoderConfig, build_model

    model = build_model(vocab_size=100, max_len=12, n_labels=5, cfg=EncoderConfig())
    names = [layer.name for layer in model.layers]
    assert names == ["tokens", "embedding", "bilstm", "max_pool", "movie_embedding", "dropout", "genres"]
    assert model.get_layer("embedding").output_dim == 128
    assert model.get_layer("bilstm").forward_layer.units == 128
    assert model.get_layer("bilstm").forward_layer.return_sequences
    assert model.get_layer("movie_embedding").units == 256
    assert model.get_layer("dropout").rate == 0.3
    assert model.output_shape == (None, 5)


def test_rare_genres_weigh_more_and_unit_weights_give_plain_cross_entropy(quick_artifacts):
    import keras

    from engine.content.train_encoder import positive_weights, weighted_binary_crossentropy

    y = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype="float32")
    w = positive_weights(y)
    assert w[0] == 1.0                        # a label every movie has: plain weight, never less
    assert w[1] == pytest.approx(np.sqrt(3))  # 1 positive, 3 negatives
    assert w[2] == 1.0                        # never seen: left alone
    probs = np.array([[0.9, 0.2, 0.1], [0.6, 0.7, 0.3]], dtype="float32")
    labels = y[:2]
    plain = keras.losses.binary_crossentropy(labels, probs).numpy()
    ours = weighted_binary_crossentropy(np.ones(3, "float32"))(labels, probs).numpy()
    assert np.allclose(plain, ours, atol=1e-5)
    heavier = weighted_binary_crossentropy(np.array([1, 3, 1], "float32"))(labels, probs).numpy()
    assert heavier[1] > ours[1] and heavier[0] == pytest.approx(ours[0])  # row 0 has no genre 2


def test_choose_max_len_uses_the_length_distribution():
    from engine.content.train_encoder import EncoderConfig, choose_max_len

    lengths = np.array([0, 0] + [50] * 96 + [400] * 4)  # zeros (no text) are ignored
    assert choose_max_len(lengths, EncoderConfig()) == 56  # 95th percentile, rounded up to 8
    assert choose_max_len(np.array([1000] * 10), EncoderConfig()) == 300  # the issue's cap


def test_quick_training_reproduces_the_built_embeddings(engine, data_dir):
    """Same seed, same data -> the very vectors the session's quick build saved."""
    from engine.content.build import encoder_targets
    from engine.content.text import movie_text
    from engine.content.train_encoder import EncoderConfig, train_encoder
    from engine.datasets import movielens

    df = engine.catalog.df.reset_index(drop=True)
    texts = [movie_text(row) for _, row in df.iterrows()]
    seed = engine.manifest["seed"]
    targets = encoder_targets(movielens.small_ratings(data_dir), df["movie_id"].to_numpy(), seed,
                              quick=True)
    result = train_encoder(texts, [list(g) for g in df["genres"]], EncoderConfig.quick(),
                           seed=seed, progress=False, audience=targets.vectors)
    built = np.load(engine.version_dir / "content" / "bilstm.npy")
    assert result.embeddings.shape == built.shape
    assert np.allclose(result.embeddings, built, atol=1e-5)
    predicted = np.load(engine.version_dir / "content" / "audience_predicted.npy")
    assert np.allclose(result.audience, predicted, atol=1e-5)
    assert not result.embeddings[~result.has_text].any()  # no text -> no text vector
    assert result.metrics["n_test_movies"] > 0 and 0 <= result.metrics["genre_f1_micro"] <= 1


def test_too_little_text_skips_the_encoder_instead_of_crashing(quick_artifacts):
    # quick_artifacts first, as above. The open data has no overviews at all: there used to
    # be no genre classes to predict, and Keras failed on Dense(units=0).
    from engine.content.train_encoder import EncoderConfig, train_encoder

    texts = [""] * 30 + ["a short plot"] * 5
    result = train_encoder(texts, [["Drama"]] * 35, EncoderConfig.quick(), progress=False)
    assert result.embeddings.shape == (35, EncoderConfig.quick().dense_units)
    assert not result.embeddings.any() and result.labels == []
    assert "skipped" in result.params and result.metrics["encoder_skipped"] == 1


def test_the_audience_head_sits_beside_the_genre_head(quick_artifacts):
    from engine.content.train_encoder import EncoderConfig, build_model

    model = build_model(vocab_size=100, max_len=12, n_labels=5, cfg=EncoderConfig(), audience_dim=16)
    names = [layer.name for layer in model.layers]
    assert names[:6] == ["tokens", "embedding", "bilstm", "max_pool", "movie_embedding", "dropout"]
    assert sorted(names[6:]) == ["audience", "genres"]
    # both heads read the same dropout output of the 256-d movie_embedding
    dropped = model.get_layer("dropout").output
    assert model.get_layer("audience").input is dropped and model.get_layer("genres").input is dropped
    assert model.get_layer("audience").units == 16


def test_masked_cosine_loss_ignores_films_without_a_target(quick_artifacts):
    from engine.content.train_encoder import masked_cosine_loss

    target = np.array([[1, 0], [0, 1], [0, 0]], dtype="float32")
    pred = np.array([[2, 0], [0, -3], [5, 5]], dtype="float32")
    loss = np.asarray(masked_cosine_loss(target, pred))
    # same way, opposite, no target; the mean is the mean over the two films with a target
    assert loss == pytest.approx([0.0, 3.0, 0.0], abs=1e-6)
    assert loss.mean() == pytest.approx(1.0, abs=1e-6)


def test_audience_targets_use_training_users_only_and_never_cold_films(data_dir):
    from engine.content import evaluate as ev
    from engine.content.audience import audience_targets
    from engine.content.hybrid import CoLikes, like_matrix
    from engine.content.hybrid_eval import cold_movies
    from engine.datasets import movielens

    ratings = movielens.small_ratings(data_dir)
    movie_ids = np.sort(ratings["movieId"].unique())
    train, val, test = ev.split_users3(ratings, 42)
    cold = cold_movies(movie_ids, 42)
    t = audience_targets(ratings, train, movie_ids, cold, 42, dim=32)
    assert t.warm.sum() > 100 and not t.warm[np.isin(movie_ids, cold)].any()
    assert not t.vectors[~t.warm].any()
    # the test users' ratings never reach the targets: scramble them, same vectors
    scrambled = ratings.copy()
    is_test = scrambled["userId"].isin(test)
    scrambled.loc[is_test, "rating"] = 5.0 - scrambled.loc[is_test, "rating"]
    again = audience_targets(scrambled, train, movie_ids, cold, 42, dim=32)
    assert np.array_equal(t.vectors, again.vectors)
    # cosines of the targets follow the co-like cosines they factorise
    co = CoLikes(like_matrix(ratings, train, movie_ids, cold=cold))
    warm = np.flatnonzero(t.warm)[:200]
    cos, _ = co.rows(warm)
    approx = t.vectors[warm] @ t.vectors[warm].T
    exact = cos[:, warm]
    off = ~np.eye(len(warm), dtype=bool)
    assert np.corrcoef(approx[off], exact[off])[0, 1] > 0.6
