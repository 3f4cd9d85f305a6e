"""engine/metrics.py: hand-computed values and the properties every ranking metric must have."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.metrics import (
    EvalReport,
    average_precision_at_k,
    coverage,
    discounts,
    evaluate_lists,
    hit_rate_at_k,
    hits_from_ranks,
    ideal_dcg,
    markdown_table,
    mean_se,
    ndcg_at_k,
    ndcg_rows,
    paired_difference,
    precision_at_k,
    rating_errors,
    recall_at_k,
    standard_error,
)

LOG2_3 = math.log2(3)


def test_three_item_list_by_hand():
    # ranked [10, 20, 30], relevant {10, 30}: hits at ranks 1 and 3
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5; ideal = 1 + 1/log2(3)
    ranked, relevant = [10, 20, 30], {10, 30}
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    assert precision_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 3) == 1.0
    assert hit_rate_at_k(ranked, relevant, 3) == 1.0
    # precision at the hits: 1/1 at rank 1, 2/3 at rank 3; over min(k, |relevant|) = 2
    assert average_precision_at_k(ranked, relevant, 3) == pytest.approx((1 + 2 / 3) / 2)
    # cut at k = 2: only the first hit counts, the ideal has two hits
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert recall_at_k(ranked, relevant, 2) == 0.5


def test_graded_relevance_by_hand():
    # gains 3 (item 2) and 1 (item 1); ranked [1, 2]: DCG = 1 + 3/log2(3), ideal = 3 + 1/log2(3)
    assert ndcg_at_k([1, 2], {1: 1.0, 2: 3.0}, 2) == pytest.approx(
        (1 + 3 / LOG2_3) / (3 + 1 / LOG2_3))
    assert ndcg_at_k([2, 1], {1: 1.0, 2: 3.0}, 2) == pytest.approx(1.0)
    # binary relevance as a dict of ones is the same number, bit for bit
    assert ndcg_at_k([5, 1, 7], {1: 1.0, 9: 1.0}, 3) == ndcg_at_k([5, 1, 7], {1, 9}, 3)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_perfect_ranking_scores_one(k):
    relevant = {4, 8, 15, 16, 23, 42}
    ranked = sorted(relevant) + [100, 101, 102, 103, 104]
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx(1.0)
    assert recall_at_k(ranked, relevant, k) == 1.0
    assert average_precision_at_k(ranked, relevant, k) == pytest.approx(1.0)
    assert hit_rate_at_k(ranked, relevant, k) == 1.0


def test_no_hits_scores_zero_and_short_lists_are_fine():
    assert ndcg_at_k([1, 2, 3], {9}, 3) == 0.0
    assert average_precision_at_k([1, 2, 3], {9}, 3) == 0.0
    assert ndcg_at_k([], {9}, 10) == 0.0 and precision_at_k([], {9}, 10) == 0.0
    # a list shorter than k: precision still divides by k
    assert precision_at_k([9], {9}, 10) == 0.1 and ndcg_at_k([9], {9}, 10) == 1.0


def test_empty_relevant_set_is_undefined_and_left_out():
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, hit_rate_at_k, average_precision_at_k):
        assert math.isnan(metric([1, 2, 3], set(), 3))
    values = evaluate_lists([[1, 2], [3, 4], [5, 6]], [{1}, set(), {9}], k=2)
    assert list(values) == ["precision@2", "recall@2", "ndcg@2", "hr@2", "map@2"]
    assert values["ndcg@2"].tolist() == [1.0, 0.0]      # the middle list is not scored
    assert values["hr@2"].tolist() == [1.0, 0.0]


def test_vectorised_ndcg_equals_the_per_list_one_bit_for_bit():
    rng = np.random.default_rng(0)
    hits = rng.random((200, 10)) < 0.3
    n_rel = np.maximum(rng.integers(1, 25, 200), np.maximum(hits.sum(axis=1), 1))
    rows = ndcg_rows(hits, n_rel)
    for h, n, value in zip(hits, n_rel, rows, strict=True):
        ranked = list(range(10))
        relevant = set(np.flatnonzero(h).tolist()) | set(range(100, 100 + n - h.sum()))
        assert ndcg_at_k(ranked, relevant, 10) == value
    assert ideal_dcg(np.array([1, 3, 50]), 10).tolist() == [
        1.0, discounts(10)[:3].sum(), discounts(10).sum()]


def test_hits_from_ranks():
    hits = hits_from_ranks(np.array([1, 3, 11]), 10)
    assert hits.shape == (3, 10) and hits.sum() == 2 and hits[0, 0] and hits[1, 2]
    assert ndcg_rows(hits, np.ones(3, dtype=int)).tolist() == [1.0, 0.5, 0.0]


def test_coverage_counts_distinct_items_in_the_top_k():
    assert coverage([[1, 2, 3], [3, 4, 5]], n_items=10, k=2) == 0.4
    assert coverage([], n_items=0, k=5) == 0.0


def test_mean_and_standard_error():
    assert mean_se([0.3] * 7) == (pytest.approx(0.3), 0.0)    # SE of a constant is 0
    mean, se = mean_se([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5 and se == pytest.approx(np.std([1, 0, 1, 0], ddof=1) / 2)
    assert mean_se([0.7]) == (0.7, 0.0)
    empty_mean, empty_se = mean_se([])
    assert math.isnan(empty_mean) and empty_se == 0.0
    # users, not queries, are the units: two users who always hit / always miss
    assert standard_error(np.array([1.0, 1.0, 0.0, 0.0]), np.array([1, 1, 2, 2])) > se


def test_paired_difference():
    a = [0.1, 0.5, 0.9, 0.4]
    assert paired_difference(a, a) == (0.0, 0.0)
    # a constant shift has no paired noise, however noisy the values themselves are
    diff, se = paired_difference([x + 0.1 for x in a], a)
    assert diff == pytest.approx(0.1) and se == pytest.approx(0.0, abs=1e-12)
    diff, se = paired_difference([1.0, 0.0], [0.0, 0.0])
    assert diff == 0.5 and se == pytest.approx(0.5)
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])


def test_rating_errors():
    m = rating_errors(np.array([1.0, 3.0]), np.array([2.0, 3.0]))
    assert m["rmse"] == pytest.approx(math.sqrt(0.5)) and m["mae"] == 0.5


def test_report_and_table_helpers():
    assert markdown_table(("a", "b"), [("1", ""), ("2", "x")]) == "| a | b |\n|---|---|\n| 1 |  |\n| 2 | x |"
    report = EvalReport("content", {"t": 1}, {"test_ndcg@10": 0.5}, "text")
    assert report.format() == "text" and report.scalars["test_ndcg@10"] == 0.5
