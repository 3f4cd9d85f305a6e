"""One movie vector from several blocks, with block weights chosen on validation users.

Each block is L2-normalised per movie and multiplied by ``sqrt(w)``; the concatenation is
L2-normalised again. For a movie with every block present, the cosine of two fused
vectors is then exactly the weighted mean of the block cosines, so a weight means what
it says. A movie missing a block (no overview -> no BiLSTM vector) keeps a unit-length
vector made of the blocks it has.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np


def l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x, dtype=np.float32), where=norms > 0)


def fuse(blocks: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    parts = [l2_rows(blocks[name]) * np.sqrt(weights[name]) for name in blocks if weights.get(name, 0) > 0]
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
        normed = {n: l2_rows(b) for n, b in blocks.items()}
        self.present = {n: (np.linalg.norm(b, axis=1) > 0).astype(np.float32) for n, b in normed.items()}
        self.cos = {n: normed[n][queries] @ normed[n].T for n in self.names}
        self.queries = queries

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        total = sum(weights[n] * self.cos[n] for n in self.names if weights.get(n, 0) > 0)
        norm2 = sum(weights[n] * self.present[n] for n in self.names if weights.get(n, 0) > 0)
        norm = np.sqrt(np.maximum(norm2, 1e-12))
        return total / (norm[self.queries][:, None] * norm[None, :])


def choose_weights(blocks: Mapping[str, np.ndarray], queries: np.ndarray,
                   metric: Callable[[np.ndarray], float], step: float = 0.1
                   ) -> tuple[dict[str, float], list[tuple[dict[str, float], float]]]:
    """The grid weighting with the best ``metric(scores)`` on validation queries.

    Returns the winner and every (weights, value) tried, for the manifest.
    """
    sims = BlockSimilarity(blocks, queries)
    tried = [(w, float(metric(sims.scores(w)))) for w in weight_grid(sims.names, step)]
    best = max(tried, key=lambda item: item[1])[0]
    return best, tried


@dataclass
class FusionChoice:
    """Everything the served score needs besides the vectors."""

    weights: dict[str, float]
    lam: float          # weight of the popularity prior in the served score
    gamma: float        # prior = vote-count percentile ** gamma (sharper for larger gamma)
    validation: dict[str, float] = field(default_factory=dict)


def choose_fusion(blocks: Mapping[str, np.ndarray], percentile: np.ndarray, queries: np.ndarray,
                  metric: Callable[[np.ndarray], float], step: float = 0.1,
                  lams=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                  gammas=(1.0, 4.0, 16.0), rounds: int = 2) -> tuple[FusionChoice, list[dict]]:
    """Coordinate ascent on validation queries: block weights, then the prior, repeated.

    A joint grid would cost |weights| x |lams| x |gammas| rankings (~1,800 for three
    blocks); alternating costs ~(66 + 27) per round and lands on the same optimum when
    the two parts barely interact (measured in docs/content.md).
    """
    sims = BlockSimilarity(blocks, queries)
    grid = weight_grid(sims.names, step)
    tried: list[dict] = []
    best = FusionChoice(grid[0], 0.0, 1.0, {"ndcg@10": -1.0})
    content_only = -1.0

    def consider(weights, lam, gamma, scores):
        nonlocal best
        value = float(metric(scores))
        tried.append({"weights": weights, "lam": lam, "gamma": gamma, "ndcg@10": value})
        if value > best.validation["ndcg@10"]:
            best = FusionChoice(weights, lam, gamma, {"ndcg@10": value})
        return value

    for _ in range(rounds):
        lam, prior = best.lam, percentile ** best.gamma
        for w in grid:  # weights, with the current prior held fixed
            value = consider(w, lam, best.gamma if lam else 1.0,
                             (1 - lam) * sims.scores(w) + lam * prior[None, :])
            if lam == 0.0:
                content_only = max(content_only, value)
        content = sims.scores(best.weights)
        for gamma in gammas:  # the prior, with those weights held fixed
            for lam in lams:
                if lam > 0.0:
                    consider(best.weights, lam, gamma,
                             (1 - lam) * content + lam * (percentile ** gamma)[None, :])
    best.validation["content_only_ndcg@10"] = content_only
    return best, tried
