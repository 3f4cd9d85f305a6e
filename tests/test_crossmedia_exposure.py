"""Issue 17: per-movie exposure offsets keep any one film out of most /song lists."""

from __future__ import annotations

import numpy as np

from engine.crossmedia.exposure import exposure_offsets, with_offsets
from engine.crossmedia.serving import served_lists, spread_of


def _hubby(seed: int = 0):
    """Songs that share one strong direction, and a few films far out along it: a linear
    score puts those films in almost every top 10 (the hubs /song had)."""
    rng = np.random.default_rng(seed)
    songs = rng.normal(size=(600, 6)).astype(np.float32)
    songs[:, 0] += 4.0
    songs = np.hstack([songs, np.full((600, 1), 0.5, np.float32)])  # prior weight 0.5
    movies = rng.normal(size=(400, 6)).astype(np.float32)
    movies[:5, 0] += 6.0
    movies = np.hstack([movies, rng.normal(size=(400, 1)).astype(np.float32)])
    return songs, movies


def test_offsets_cap_every_films_share_of_lists_on_unseen_songs():
    songs, movies = _hubby()
    reference, unseen = songs[:400], songs[400:]
    before = spread_of(served_lists(unseen, movies, 10), len(movies))
    offsets = exposure_offsets(reference, movies, cap=0.05)
    balanced = with_offsets(movies, offsets, prior_weight=0.5)
    after = spread_of(served_lists(unseen, balanced, 10), len(movies))
    assert before[1] > 0.9                      # the hubs: in nearly every list
    assert after[1] <= 0.15 and after[0] > 2 * before[0]
    assert (offsets >= 0).all() and offsets[:5].min() > 0


def test_offsets_shift_each_film_by_a_constant_so_a_films_songs_keep_their_order():
    songs, movies = _hubby(1)
    offsets = exposure_offsets(songs, movies, cap=0.05)
    balanced = with_offsets(movies, offsets, prior_weight=0.5)
    delta = songs @ movies.T - songs @ balanced.T
    np.testing.assert_allclose(delta, np.broadcast_to(offsets, delta.shape), rtol=1e-4, atol=1e-4)
    # no cap, no change
    np.testing.assert_array_equal(with_offsets(movies, exposure_offsets(songs, movies, None), 0.5),
                                  movies)
