"""Collaborative engine: parsing, data loading, metrics and the Annoy transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.collab.interactions import (
    ML_100K,
    ML_SMALL,
    Interactions,
    feedback_ratings,
    load_ratings,
)
from engine.collab.ranking_eval import ranking_metrics, top_k
from engine.collab.signals import History, as_rating, confidence, parse_history
from engine.collab.vectors import VectorIndex, augment
from engine.errors import DataError, InvalidInput, MovieBotError
from engine.metrics import coverage, rating_errors


def test_parse_history_accepts_ratings_and_thumbs():
    assert parse_history("318:5, 260:4.5,1196:like;593:dislike") == [
        (318, "5"), (260, "4.5"), (1196, "like"), (593, "dislike")]


@pytest.mark.parametrize("text, fragment", [
    ("318", "MOVIE_ID:RATING"), ("abc:5", "not a movie id"), ("318:7", "between 0.5 and 5"),
    ("318:meh", "not a rating"), (" , ", "empty"), ("318:", "MOVIE_ID:RATING")])
def test_parse_history_errors_are_friendly(text, fragment):
    with pytest.raises(InvalidInput) as err:
        parse_history(text)
    assert isinstance(err.value, MovieBotError) and fragment in str(err.value)


def test_signals_map_to_signed_confidences():
    assert as_rating("like") > 3.5 > as_rating("dislike")
    assert confidence(5.0) > confidence(3.5) > confidence(3.0) > 0
    assert confidence(2.0) < 0 and confidence(0.5) < confidence(2.0)
    hist = History.from_pairs([(1, 5), (2, "dislike"), (3, 3), (1, 1)])   # last one wins
    assert hist.ratings[1] == 1.0 and hist.negatives() == [1, 2] and hist.positives() == []


def test_load_movielens_ratings(data_dir):
    small = load_ratings(data_dir / ML_SMALL)          # CRLF file
    assert len(small) == 100_836 and small["user"].nunique() == 610
    assert small["rating"].between(0.5, 5).all() and small["timestamp"].dtype == np.int64
    k100 = load_ratings(data_dir / ML_100K)           # tab separated, no header
    assert len(k100) == 100_000 and k100["user"].nunique() == 943
    with pytest.raises(DataError):
        load_ratings(data_dir / "nope.csv")


def test_feedback_becomes_ratings_and_last_event_wins():
    fb = pd.DataFrame({"user_key": ["tg:1", "tg:1", "tg:1", "dc:2"],
                       "movie_id": [318, 260, 318, 1],
                       "signal": ["like", "dislike", "rating", "rating"],
                       "value": [None, None, 2.0, 4.0]})
    rows = feedback_ratings(fb).set_index(["user", "item"])["rating"]
    assert rows[("chat:tg:1", 318)] == 2.0 and rows[("chat:tg:1", 260)] == 1.5
    assert rows[("chat:dc:2", 1)] == 4.0 and len(rows) == 3


def test_interactions_matrix_keeps_signs_and_drops_rare_items():
    df = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": [1, 2, 1, 3, 1],
                       "rating": [5.0, 1.0, 4.0, 3.0, 0.5], "timestamp": [1, 2, 3, 4, 5]})
    inter = Interactions.from_ratings(df, min_item_count=1)
    full = inter.matrix(positive_only=False).toarray()
    assert full[0, 0] > 0 > full[0, 1] and full[1, 2] > 0 and full[2, 0] < 0
    assert (inter.matrix().toarray() >= 0).all()
    assert list(Interactions.from_ratings(df, min_item_count=2).item_ids) == [1]
    assert list(inter.item_index([3, 99, 1])) == [2, -1, 0]


def test_ranking_metrics_by_hand():
    ranked = [np.array([5, 1, 7]), np.array([2, 3, 4])]
    relevant = [{1, 9}, {8}]
    m = ranking_metrics(ranked, relevant, k=3)
    ndcg_u0 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert m["ndcg@3"] == pytest.approx(ndcg_u0 / 2)
    assert m["precision@3"] == pytest.approx((1 / 3) / 2)
    assert m["recall@3"] == pytest.approx(0.25) and m["hr@3"] == 0.5
    assert m["map@3"] == pytest.approx((0.5 / 2) / 2)
    assert coverage(ranked, 10, 3) == 0.6
    assert rating_errors(np.array([1, 3]), np.array([2, 3]))["rmse"] == pytest.approx(np.sqrt(0.5))
    assert list(top_k(np.array([0.1, 0.9, 0.5, 0.7]), np.array([1]), 2)) == [3, 2]


def test_extra_dimension_transform_turns_inner_product_into_angle(tmp_path):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(2000, 16)) * rng.uniform(0.1, 3, size=(2000, 1))
    aug = augment(items)
    assert np.allclose(np.linalg.norm(aug, axis=1), np.linalg.norm(aug, axis=1).max(), atol=1e-4)
    index = VectorIndex.build(items, tmp_path / "x.ann", trees=20)
    # a search_k that visits every leaf makes Annoy exact, so this checks the transform itself
    loaded = VectorIndex.load(tmp_path / "x.ann", index.dim, search_k=len(items) * 40)
    recalls = []
    for _ in range(20):
        user = rng.normal(size=16)
        exact = set(np.argsort(-(items @ user))[:10].tolist())
        recalls.append(len(exact & set(loaded.query(user, 10))) / 10)
    assert np.mean(recalls) >= 0.99
    assert loaded.query(np.zeros(16), 5) == []
