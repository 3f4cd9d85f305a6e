"""Held-out evaluation of "similar movies" against what real users liked together.

Protocol (docs/content.md): MovieLens users are split (seeded) into validation users,
whose likes choose the fusion weights, and test users, whose likes are only ever used
for the reported table. A query is one movie a user liked (rating >= 4); the relevant
movies are the other movies that same user liked. We rank the whole catalog by
similarity to the query (the query itself excluded) and score the top 10 with NDCG@10
and recall@10 = hits / min(10, number relevant).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("moviebot.content.eval")

LIKE = 4.0
K = 10


@dataclass
class QuerySet:
    queries: np.ndarray           # catalog row of each query movie
    relevant: list[np.ndarray]    # catalog rows liked by the same user (query excluded)
    users: np.ndarray | None = None  # the user behind each query (for the standard error)

    def __len__(self) -> int:
        return len(self.queries)

    def relevance(self, n_items: int) -> np.ndarray:
        """(n_queries, n_items) bool: is item j one of query i's relevant movies."""
        rel = np.zeros((len(self), n_items), dtype=bool)
        for i, rows in enumerate(self.relevant):
            rel[i, rows] = True
        return rel


def split_users(ratings: pd.DataFrame, seed: int = 42, val_share: float = 0.5
                ) -> tuple[np.ndarray, np.ndarray]:
    users = np.sort(ratings["userId"].unique())
    rng = np.random.default_rng(seed)
    rng.shuffle(users)
    n_val = int(round(len(users) * val_share))
    return np.sort(users[:n_val]), np.sort(users[n_val:])


def make_queries(ratings: pd.DataFrame, users: np.ndarray, movie_ids: np.ndarray,
                 per_user: int = 5, seed: int = 42) -> QuerySet:
    """Up to ``per_user`` liked movies per user as queries, so heavy raters don't dominate."""
    row_of = pd.Series(np.arange(len(movie_ids)), index=movie_ids)
    liked = ratings[(ratings["rating"] >= LIKE) & ratings["userId"].isin(users)
                    & ratings["movieId"].isin(row_of.index)]
    rng = np.random.default_rng(seed)
    queries, relevant, who = [], [], []
    for user, group in liked.sort_values(["userId", "movieId"]).groupby("userId", sort=True):
        rows = row_of.loc[group["movieId"].to_numpy()].to_numpy()
        if len(rows) < 2:
            continue
        for q in rng.choice(rows, size=min(per_user, len(rows)), replace=False):
            queries.append(int(q))
            relevant.append(rows[rows != q])
            who.append(int(user))
    return QuerySet(np.array(queries, dtype=np.int64), relevant, np.array(who, dtype=np.int64))


def top_k(scores: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row-wise indices of the k best scores, best first, never the query itself."""
    scores = scores.astype(np.float64, copy=True)
    scores[np.arange(len(queries)), queries] = -np.inf
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


_DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))


def ranking_metrics(ranked: np.ndarray, qs: QuerySet, k: int = K) -> dict[str, float]:
    ndcg, recall = np.empty(len(qs)), np.empty(len(qs))
    for i, (top, rel) in enumerate(zip(ranked[:, :k], qs.relevant, strict=True)):
        hits = np.isin(top, rel)
        ideal = _DISCOUNT[: min(k, len(rel))].sum()
        ndcg[i] = (hits * _DISCOUNT[:k]).sum() / ideal
        recall[i] = hits.sum() / min(k, len(rel))
    return {"ndcg@10": float(ndcg.mean()), "recall@10": float(recall.mean())}


def evaluate_scores(scores: np.ndarray, qs: QuerySet) -> dict[str, float]:
    return ranking_metrics(top_k(scores, qs.queries), qs)


def per_query_ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """NDCG@10 of every query from its top-10 hit matrix (n_queries, <=10), vectorised."""
    k = hits.shape[1]
    ideal = np.cumsum(_DISCOUNT)[np.minimum(n_relevant, K) - 1]
    return (hits * _DISCOUNT[:k]).sum(axis=1) / ideal


def standard_error(values: np.ndarray, clusters: np.ndarray | None = None) -> float:
    """Standard error of the mean of per-query values.

    Queries of the same user are correlated (same taste, same relevant set), so with
    ``clusters`` (the user of each query) this is the cluster-robust standard error, i.e.
    users, not queries, are the independent units. It is larger than the naive one.
    """
    n = len(values)
    if n < 2:
        return 0.0
    if clusters is None:
        return float(np.std(values, ddof=1) / np.sqrt(n))
    dev = values - values.mean()
    _, inverse = np.unique(clusters, return_inverse=True)
    per_cluster = np.bincount(inverse, weights=dev)
    g = len(per_cluster)
    correction = g / (g - 1) if g > 1 else 1.0
    return float(np.sqrt(correction * (per_cluster ** 2).sum()) / n)


# -- scorers: (query rows) -> (n_queries, n_movies) scores ---------------------------
def cosine_scorer(vectors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    from .fusion import l2_rows

    normed = l2_rows(vectors)
    return lambda queries: normed[queries] @ normed.T


def genre_jaccard_scorer(genres: np.ndarray, popularity: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Jaccard of MovieLens genres; ties (there are many) go to the more popular movie."""
    sizes = genres.sum(axis=1)
    tiebreak = _rank01(popularity) * 1e-3

    def score(queries: np.ndarray) -> np.ndarray:
        inter = genres[queries] @ genres.T
        union = sizes[queries][:, None] + sizes[None, :] - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0) + tiebreak
    return score


def popularity_scorer(popularity: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The same list for every query: the most-voted movies on TMDB."""
    ranks = _rank01(popularity)
    return lambda queries: np.broadcast_to(ranks, (len(queries), len(ranks)))


def _rank01(values: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-1.0)
    return (values.argsort(kind="stable").argsort() / max(1, len(values) - 1)).astype(np.float32)


def popularity_of(catalog: pd.DataFrame) -> np.ndarray:
    """TMDB vote counts: public popularity that uses none of the evaluation users' ratings."""
    return pd.to_numeric(catalog["vote_count"], errors="coerce").fillna(0).to_numpy(float)


def served_scorer(fused: np.ndarray, prior: np.ndarray, lam: float,
                  n_candidates: int) -> Callable[[np.ndarray], np.ndarray]:
    """The served two-stage score (index.py): the top ``n_candidates`` by fused cosine keep
    ``(1 - lam) * cosine + lam * prior``, every other movie gets -inf (never listed)."""
    cosine = cosine_scorer(fused)
    if not lam:
        return cosine

    def score(queries: np.ndarray) -> np.ndarray:
        cos = cosine(queries).astype(np.float64)
        cos[np.arange(len(queries)), queries] = -np.inf
        n = min(n_candidates, cos.shape[1] - 1)
        cand = np.argpartition(-cos, n - 1, axis=1)[:, :n]
        rows = np.arange(len(queries))[:, None]
        out = np.full_like(cos, -np.inf)
        out[rows, cand] = (1 - lam) * cos[rows, cand] + lam * prior[cand]
        return out
    return score


def evaluate_all(blocks: Mapping[str, np.ndarray], fused: np.ndarray, catalog: pd.DataFrame,
                 qs: QuerySet, percentile: np.ndarray, choice) -> dict[str, dict[str, float]]:
    """The table: each block alone, the fused vector with and without its prior, baselines."""
    from .fusion import fuse
    from .metadata import genre_matrix

    genres, _ = genre_matrix(catalog)
    pop = popularity_of(catalog)
    # each block alone exactly as fusion sees it (centred), so a one-block row equals the
    # fused row when the weights pick that block alone
    scorers = {f"{name} only": cosine_scorer(fuse({name: vecs}, {name: 1.0})) for name, vecs in blocks.items()}
    scorers["fused blocks, no prior"] = cosine_scorer(fused)
    scorers["fused (served)"] = served_scorer(fused, percentile ** choice.gamma, choice.lam,
                                              choice.n_candidates)
    scorers["genre-Jaccard baseline"] = genre_jaccard_scorer(genres, pop)
    scorers["popularity baseline"] = popularity_scorer(pop)
    table = {}
    for name, scorer in scorers.items():
        table[name] = evaluate_scores(_batched(scorer, qs.queries), qs)
        table[name]["queries"] = len(qs)
    return table


def _batched(scorer, queries: np.ndarray, batch: int = 1024) -> np.ndarray:
    return np.vstack([np.asarray(scorer(queries[i:i + batch]), dtype=np.float32)
                      for i in range(0, len(queries), batch)])


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    lines = ["| model | NDCG@10 | recall@10 |", "|---|---|---|"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['ndcg@10']:.4f} | {row['recall@10']:.4f} |")
    return "\n".join(lines)


def load_ratings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, usecols=["userId", "movieId", "rating"])


def evaluate_built(artifacts_root: Path, data_dir: Path, ratings_path: Path | None = None,
                   prior_rows: bool = False, weight_rows: bool = False
                   ) -> dict[str, dict[str, float]]:
    """Recompute the test-user table from a built version (same seeded user split)."""
    import json

    from ..artifacts import current_version
    from ..catalog import CATALOG_FILE
    from ..datasets import movielens
    from ..errors import ComponentMissing
    from .build import CONFIG, load_blocks
    from .fusion import FusionChoice, fuse
    from .metadata import vote_percentile

    version = current_version(Path(artifacts_root))
    content = version / "content"
    if not (content / CONFIG).exists():
        raise ComponentMissing("content")
    config = json.loads((content / CONFIG).read_text())
    catalog = pd.read_parquet(version / CATALOG_FILE)
    ratings_path = ratings_path or (Path(config["ratings"]) if config.get("ratings") else None)
    ratings = (movielens.ratings(ratings_path) if ratings_path
               else movielens.small_ratings(data_dir))
    blocks = load_blocks(content)
    choice = FusionChoice(config["weights"], config["lam"], config["gamma"], config["n_candidates"])
    _, test_users = split_users(ratings, config["seed"])
    qs = make_queries(ratings, test_users, catalog["movie_id"].to_numpy(np.int64),
                      config["per_user"], config["seed"])
    percentile = vote_percentile(catalog)
    table = evaluate_all(blocks, fuse(blocks, choice.weights), catalog, qs, percentile, choice)
    if prior_rows:
        table.update(block_prior_rows(blocks, catalog, ratings, config, percentile, qs))
    if prior_rows or weight_rows:
        table.update(weighting_rows(blocks, catalog, ratings, config, percentile, qs))
    return table


def _validation_queries(ratings, catalog, config) -> QuerySet:
    val_users, _ = split_users(ratings, config["seed"])
    return make_queries(ratings, val_users, catalog["movie_id"].to_numpy(np.int64),
                        config["per_user"], config["seed"])


def block_prior_rows(blocks, catalog, ratings, config, percentile, test_qs) -> dict:
    """Each block alone plus its own two-stage popularity rerank (chosen on validation by
    the same one-SE rule as the served vector).

    A fairer comparison for the served score than the bare blocks: it shows how much
    of the gain is the prior and how much is the fusion.
    """
    from .fusion import choose_fusion, fuse

    val_q = _validation_queries(ratings, catalog, config)
    rows = {}
    for name, vecs in blocks.items():
        if not (np.linalg.norm(vecs, axis=1) > 0).any():
            continue
        choice, _ = choose_fusion({name: vecs}, percentile, val_q, step=1.0)
        scorer = served_scorer(fuse({name: vecs}, {name: 1.0}), percentile ** choice.gamma, choice.lam,
                               choice.n_candidates)
        row = evaluate_scores(_batched(scorer, test_qs.queries), test_qs)
        label = (f"{name} + prior (lam={choice.lam:g}, gamma={choice.gamma:g}, "
                 f"N={choice.n_candidates})")
        rows[label] = {**row, "queries": len(test_qs)}
    return rows


def weighting_rows(blocks, catalog, ratings, config, percentile, test_qs) -> dict:
    """The served prior setting with other block weightings: does fusing the text help?

    Uses the built lam / gamma / N and compares, on test users, the chosen weights with
    metadata alone and with the best-on-validation weighting (ignoring the one-SE rule).
    """
    from .fusion import fuse

    lam, gamma, n = config["lam"], config["gamma"], config["n_candidates"]
    variants = {"metadata only": {"metadata": 1.0}}
    best = config.get("selection", {}).get("best_config")
    if best:
        variants["best-on-validation config"] = best["weights"]
        lam_b, gamma_b, n_b = best["lam"], best["gamma"], best["n_candidates"]
    chosen = {k: v for k, v in config["weights"].items() if v > 0}
    rows = {}
    for label, weights in variants.items():
        used = {k: v for k, v in weights.items() if v > 0 and k in blocks}
        if used == chosen and not label.startswith("best"):
            continue  # that is the served row already
        if label.startswith("best"):
            scorer = served_scorer(fuse(blocks, used), percentile ** gamma_b, lam_b, n_b)
            label = (f"best-on-validation ({_fmt_weights(used)}, lam={lam_b:g}, gamma={gamma_b:g}, "
                     f"N={n_b})")
        else:
            scorer = served_scorer(fuse(blocks, used), percentile ** gamma, lam, n)
            label = f"{label}, served rerank (lam={lam:g}, gamma={gamma:g}, N={n})"
        rows[label] = {**evaluate_scores(_batched(scorer, test_qs.queries), test_qs),
                       "queries": len(test_qs)}
    return rows


def _fmt_weights(weights) -> str:
    return " ".join(f"{k} {v:g}" for k, v in weights.items() if v)
