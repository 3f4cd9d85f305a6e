"""One movie vector from several blocks, and the served score, chosen on validation users.

Blocks: each block is centred (its mean over the movies that have it is removed, so the
common direction every movie shares, e.g. the encoder's ReLU bias, stops inflating all
cosines), L2-normalised per movie and multiplied by ``sqrt(w)``; the concatenation is
L2-normalised again. For a movie with every block present, the cosine of two fused
vectors is then exactly the weighted mean of the block cosines, so a weight means what
it says. A movie missing a block (no overview -> no BiLSTM vector) keeps a unit-length
vector made of the blocks it has.

Served score (two-stage, see index.py): the ``n_candidates`` nearest movies by fused
cosine are reranked by ``(1 - lam) * cosine + lam * prior``, prior = vote-count
percentile ** gamma. Every result is therefore similar in content; popularity only
orders among similar films.

Model selection: the configuration with the best validation NDCG@10 (co-liked ground
truth, evaluate.py) wins; exact ties go to the smaller ``lam``, then the fewer
candidates. Its standard error and the best pure-content score are kept beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..metrics import ndcg_rows, standard_error

K = 10   # fusion is chosen on NDCG@K (the evaluation's K)
TEXT_BLOCKS = ("tfidf", "bilstm")
RULE = ("best validation NDCG@10 (co-liked ground truth) over the joint grid of block weights, "
        "lam, gamma and n_candidates; ties to the smaller lam, then the fewer candidates")

def l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float32), where=norms > 0)


def prepare_block(x: np.ndarray) -> np.ndarray:
    """Centre over the movies that have the block (zero rows stay zero), then unit rows."""
    x = np.asarray(x, dtype=np.float32)
    present = np.linalg.norm(x, axis=1) > 0
    if present.sum() < 2:
        return l2_rows(x)
    out = x.copy()
    out[present] -= x[present].mean(axis=0)
    # a movie sitting exactly on the mean would vanish (look "missing"): keep its raw direction
    lost = present & (np.linalg.norm(out, axis=1) < 1e-6)
    out[lost] = x[lost]
    return l2_rows(out)


def usable_blocks(blocks: Mapping[str, np.ndarray], min_share: float = 0.01) -> dict[str, np.ndarray]:
    """Blocks present for at least ``min_share`` of the movies.

    A block that is (nearly) empty everywhere (no overviews in the data -> no encoder)
    scores exactly like leaving it out, so weighting it would only be noise in the manifest.
    """
    return {n: b for n, b in blocks.items()
            if (np.linalg.norm(b, axis=1) > 0).mean() >= min_share}


def rerank_with_prior(cos: np.ndarray, prior: np.ndarray, lam: float,
                      n_candidates: int) -> np.ndarray:
    """The served two-stage score for a batch of query rows of cosines (the query itself
    already -inf): the top ``n_candidates`` keep ``(1 - lam) * cosine + lam * prior``,
    every other movie gets -inf (never listed)."""
    n = min(n_candidates, cos.shape[1] - 1)
    cand = np.argpartition(-cos, n - 1, axis=1)[:, :n]
    rows = np.arange(len(cos))[:, None]
    out = np.full_like(cos, -np.inf)
    out[rows, cand] = (1 - lam) * cos[rows, cand] + lam * prior[cand]
    return out


def fuse(blocks: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    parts = [prepare_block(blocks[name]) * np.sqrt(weights[name])
             for name in blocks if weights.get(name, 0) > 0]
    return l2_rows(np.hstack(parts).astype(np.float32))


def weight_grid(names: list[str], step: float = 0.1) -> list[dict[str, float]]:
    """Every weighting on the simplex with the given step (66 for 3 blocks at 0.1)."""
    n = round(1 / step)
    grid = []
    for combo in itertools.product(range(n + 1), repeat=len(names)):
        if sum(combo) == n:
            grid.append({name: c / n for name, c in zip(names, combo, strict=True)})
    return grid


class BlockSimilarity:
    """Fused cosines for a set of query movies under any weights, without re-fusing the vectors.

    Precomputes each block's query-by-catalog cosine matrix once, so scoring one
    weighting is a weighted sum plus a per-movie norm correction (for missing blocks).
    """

    def __init__(self, blocks: Mapping[str, np.ndarray], queries: np.ndarray):
        self.names = list(blocks)
        normed = {n: prepare_block(b) for n, b in blocks.items()}
        self.present = {n: (np.linalg.norm(b, axis=1) > 0).astype(np.float32) for n, b in normed.items()}
        self.cos = {n: normed[n][queries] @ normed[n].T for n in self.names}
        self.queries = queries

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        total = sum(weights[n] * self.cos[n] for n in self.names if weights.get(n, 0) > 0)
        norm2 = sum(weights[n] * self.present[n] for n in self.names if weights.get(n, 0) > 0)
        norm = np.sqrt(np.maximum(norm2, 1e-12))
        return total / (norm[self.queries][:, None] * norm[None, :])


@dataclass
class FusionChoice:
    """Everything the served score needs besides the vectors."""

    weights: dict[str, float]
    lam: float = 0.0          # weight of the popularity prior in the rerank (0: pure content)
    gamma: float = 1.0        # prior = vote-count percentile ** gamma (sharper for larger gamma)
    n_candidates: int = 0     # content neighbours reranked (0 when lam == 0: no rerank)
    validation: dict[str, float] = field(default_factory=dict)

    def text_share(self) -> float:
        return float(sum(self.weights.get(n, 0.0) for n in TEXT_BLOCKS))


def best_choice(trials: Sequence[dict]) -> dict:
    """The trial with the best validation NDCG@10 (ties: smaller lam, then fewer candidates)."""
    return min(trials, key=lambda t: (-round(t["ndcg@10"], 12), t["lam"], t["n_candidates"]))


def choose_fusion(blocks: Mapping[str, np.ndarray], percentile: np.ndarray, qs, step: float = 0.1,
                  lams=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), gammas=(1.0, 4.0, 16.0),
                  candidates=(25, 50, 100, 200, 400)) -> tuple[FusionChoice, list[dict]]:
    """Every (weights, lam, gamma, n_candidates) on the grid, scored on validation queries.

    The grid is joint (no coordinate ascent): for one weighting the content top-``max(N)``
    is found once, and every prior setting only reranks that (queries x 400) slice, so
    ~9,000 configurations cost about as much as ~70 full rankings. ``qs`` is an
    ``evaluate.QuerySet``; returns the best configuration and every trial.
    """
    sims = BlockSimilarity(blocks, qs.queries)
    n_items = len(percentile)
    relevance = qs.relevance(n_items)
    n_rel = np.array([len(r) for r in qs.relevant])
    rows = np.arange(len(qs))[:, None]
    n_max = min(max(candidates), n_items - 1)
    candidates = sorted({min(n, n_max) for n in candidates if min(n, n_max) >= K})
    trials: list[dict] = []

    def record(weights, lam, gamma, n_cand, hits):
        values = ndcg_rows(hits, n_rel, K)
        trials.append({"weights": weights, "lam": lam, "gamma": gamma, "n_candidates": n_cand,
                       "ndcg@10": float(values.mean()), "se": standard_error(values, qs.users)})

    for weights in weight_grid(sims.names, step):
        content = sims.scores(weights)
        content[rows[:, 0], qs.queries] = -np.inf
        cand = np.argpartition(-content, n_max - 1, axis=1)[:, :n_max]
        cand_scores = np.take_along_axis(content, cand, axis=1)
        order = np.argsort(-cand_scores, axis=1, kind="stable")
        cand, cand_scores = np.take_along_axis(cand, order, axis=1), np.take_along_axis(cand_scores, order, axis=1)
        cand_hits = relevance[rows, cand]
        record(weights, 0.0, 1.0, 0, cand_hits[:, :K])
        for gamma in gammas:
            cand_prior = percentile[cand] ** gamma
            for lam in lams:
                served = (1 - lam) * cand_scores + lam * cand_prior
                for n in candidates:
                    part = served[:, :n]
                    top = np.argpartition(-part, K - 1, axis=1)[:, :K]
                    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(part, top, axis=1),
                                                             axis=1, kind="stable"), axis=1)
                    record(weights, lam, gamma, n, np.take_along_axis(cand_hits, top, axis=1))

    chosen = best_choice(trials)
    content_best = max((t for t in trials if t["lam"] == 0.0), key=lambda t: t["ndcg@10"])
    choice = FusionChoice(chosen["weights"], chosen["lam"], chosen["gamma"], chosen["n_candidates"],
                          {"ndcg@10": chosen["ndcg@10"], "se": chosen["se"], "queries": len(qs),
                           "content_only_best_ndcg@10": content_best["ndcg@10"],
                           "content_only_best_weights": content_best["weights"]})
    return choice, trials
