"""Held-out evaluation of "similar movies" against what real users liked together.

Users are split (seeded) into validation users, whose likes choose the fusion weights,
and test users, whose likes are only ever used for the reported tables. Two ground
truths, both built from the likes (rating >= 4) of one user group only:

* co-liked (primary, ``co_liked_queries``): a query is a movie liked by at least
  ``min_likes`` of the group; its relevant movies are the ``top`` movies most often liked
  by the *same people*, by cosine of the two like-vectors (at least ``min_co`` people in
  common). "People who liked X also liked Y", normalised so a film everybody likes is not
  relevant to everything.
* per user (secondary, ``make_queries``): a query is one movie a user liked; the relevant
  movies are all that user's other likes. Heavy raters like most famous films, so this one
  mostly rewards popularity.

We rank the whole catalog by similarity to the query (the query itself excluded) and
score the top 10 with NDCG@10 and recall@10 = hits / min(10, number relevant).
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
ADDED_WEIGHT = 0.1   # "served plus X": an unused block at the weight grid's step


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


def co_liked_queries(ratings: pd.DataFrame, users: np.ndarray, movie_ids: np.ndarray,
                     min_likes: int = 10, top: int = 20, min_co: int = 3) -> QuerySet:
    """Item-level ground truth from ``users``' likes (module docstring); ``users`` of the
    result is None: the queries are movies, each its own unit for the standard error."""
    from scipy import sparse

    row_of = pd.Series(np.arange(len(movie_ids)), index=movie_ids)
    liked = ratings[(ratings["rating"] >= LIKE) & ratings["userId"].isin(users)
                    & ratings["movieId"].isin(row_of.index)]
    if liked.empty:
        return QuerySet(np.zeros(0, dtype=np.int64), [])
    person = pd.factorize(liked["userId"])[0]
    likes = sparse.csr_matrix((np.ones(len(liked), dtype=np.float32),
                               (person, row_of.loc[liked["movieId"]].to_numpy())),
                              shape=(person.max() + 1, len(movie_ids)))
    fans = np.asarray(likes.sum(axis=0)).ravel()
    candidates = np.flatnonzero(fans >= min_likes)
    queries, relevant = [], []
    for start in range(0, len(candidates), 512):        # bounded memory: 512 x catalog
        block = candidates[start:start + 512]
        common = (likes[:, block].T @ likes).toarray()   # people who liked both
        cosine = common / np.sqrt(np.maximum(fans[block][:, None] * fans[None, :], 1.0))
        cosine[common < min_co] = 0.0
        cosine[np.arange(len(block)), block] = 0.0
        for query, row in zip(block, cosine, strict=True):
            linked = np.flatnonzero(row > 0)
            if len(linked):
                best = linked[np.argsort(-row[linked], kind="stable")[:top]]
                queries.append(int(query))
                relevant.append(best)
    return QuerySet(np.array(queries, dtype=np.int64), relevant)


def top_k(scores: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row-wise indices of the k best scores, best first, never the query itself."""
    scores = scores.astype(np.float64, copy=True)
    scores[np.arange(len(queries)), queries] = -np.inf
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


_DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))


def per_query_metrics(ranked: np.ndarray, qs: QuerySet, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(NDCG@k, recall@k) of every query, for means and paired standard errors."""
    ndcg, recall = np.empty(len(qs)), np.empty(len(qs))
    for i, (top, rel) in enumerate(zip(ranked[:, :k], qs.relevant, strict=True)):
        hits = np.isin(top, rel)
        ideal = _DISCOUNT[: min(k, len(rel))].sum()
        ndcg[i] = (hits * _DISCOUNT[:k]).sum() / ideal
        recall[i] = hits.sum() / min(k, len(rel))
    return ndcg, recall


def ranking_metrics(ranked: np.ndarray, qs: QuerySet, k: int = K) -> dict[str, float]:
    ndcg, recall = per_query_metrics(ranked, qs, k)
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
    """The table: each block alone, the served score, the served score without each of its
    blocks (paired difference to the served row, so "does fusing X help" has an answer
    with an error bar), and the baselines."""
    from .fusion import fuse
    from .metadata import genre_matrix

    genres, _ = genre_matrix(catalog)
    pop = popularity_of(catalog)
    prior = percentile ** choice.gamma
    # each block alone exactly as fusion sees it (centred), so a one-block row equals the
    # fused row when the weights pick that block alone
    scorers = {f"{name} only": cosine_scorer(fuse({name: vecs}, {name: 1.0})) for name, vecs in blocks.items()
               if (np.linalg.norm(vecs, axis=1) > 0).any()}
    scorers["fused blocks, no prior"] = cosine_scorer(fused)
    scorers["fused (served)"] = served_scorer(fused, prior, choice.lam, choice.n_candidates)
    used = {n: w for n, w in choice.weights.items() if w > 0 and n in blocks}
    for name, vecs in blocks.items():
        if name in used:
            variant = {n: w for n, w in used.items() if n != name}
            label = f"served without {name}"
        elif (np.linalg.norm(vecs, axis=1) > 0).any():
            # a block validation left out, added back at the grid's smallest step
            variant = {**{n: w * (1 - ADDED_WEIGHT) for n, w in used.items()}, name: ADDED_WEIGHT}
            label = f"served plus {name} (weight {ADDED_WEIGHT:g})"
        else:
            continue
        if variant:
            scorers[label] = served_scorer(fuse(blocks, variant), prior, choice.lam, choice.n_candidates)
    scorers["genre-Jaccard baseline"] = genre_jaccard_scorer(genres, pop)
    scorers["popularity baseline"] = popularity_scorer(pop)
    per_query = {name: per_query_metrics(top_k(_batched(scorer, qs.queries), qs.queries), qs)
                 for name, scorer in scorers.items()}
    served_ndcg = per_query["fused (served)"][0]
    table = {}
    for name, (ndcg, recall) in per_query.items():
        row = {"ndcg@10": float(ndcg.mean()), "recall@10": float(recall.mean()),
               "se": standard_error(ndcg, qs.users), "queries": len(qs)}
        if name.startswith(("served without", "served plus")):
            diff = ndcg - served_ndcg
            row.update({"delta_ndcg@10": float(diff.mean()), "se_delta": standard_error(diff, qs.users)})
        table[name] = row
    return table


def _batched(scorer, queries: np.ndarray, batch: int = 1024) -> np.ndarray:
    return np.vstack([np.asarray(scorer(queries[i:i + batch]), dtype=np.float32)
                      for i in range(0, len(queries), batch)])


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    lines = ["| model | NDCG@10 ± SE | recall@10 | vs served (paired) |", "|---|---|---|---|"]
    for name, row in table.items():
        se = f" ± {row['se']:.4f}" if "se" in row else ""
        delta = (f"{row['delta_ndcg@10']:+.4f} ± {row['se_delta']:.4f}" if "delta_ndcg@10" in row else "")
        lines.append(f"| {name} | {row['ndcg@10']:.4f}{se} | {row['recall@10']:.4f} | {delta} |")
    return "\n".join(lines)


def load_ratings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, usecols=["userId", "movieId", "rating"])


def query_sets(ratings: pd.DataFrame, movie_ids: np.ndarray, users: np.ndarray, config: Mapping
               ) -> dict[str, QuerySet]:
    """Both ground truths for one user group, with the parameters stored in content.json."""
    co = config.get("co_liked", {})
    return {"co-liked": co_liked_queries(ratings, users, movie_ids, **co),
            "per user": make_queries(ratings, users, movie_ids, config["per_user"], config["seed"])}


def evaluate_built(artifacts_root: Path, data_dir: Path, ratings_path: Path | None = None,
                   prior_rows: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Recompute the test-user tables (one per ground truth) from a built version."""
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
    movie_ids = catalog["movie_id"].to_numpy(np.int64)
    val_users, test_users = split_users(ratings, config["seed"])
    percentile = vote_percentile(catalog)
    fused = fuse(blocks, choice.weights)
    test_sets = query_sets(ratings, movie_ids, test_users, config)
    tables = {name: evaluate_all(blocks, fused, catalog, qs, percentile, choice)
              for name, qs in test_sets.items()}
    if prior_rows:
        val_q = co_liked_queries(ratings, val_users, movie_ids, **config.get("co_liked", {}))
        tables["co-liked"].update(block_prior_rows(blocks, percentile, val_q, test_sets["co-liked"]))
    return tables


def block_prior_rows(blocks, percentile, val_q: QuerySet, test_q: QuerySet) -> dict:
    """Each block alone plus its own two-stage popularity rerank (chosen on validation the
    same way as the served score).

    A fairer comparison for the served score than the bare blocks: it shows how much
    of the gain is the prior and how much is the fusion.
    """
    from .fusion import choose_fusion, fuse

    rows = {}
    for name, vecs in blocks.items():
        if not (np.linalg.norm(vecs, axis=1) > 0).any():
            continue
        choice, _ = choose_fusion({name: vecs}, percentile, val_q, step=1.0)
        scorer = served_scorer(fuse({name: vecs}, {name: 1.0}), percentile ** choice.gamma, choice.lam,
                               choice.n_candidates)
        ndcg, recall = per_query_metrics(top_k(_batched(scorer, test_q.queries), test_q.queries), test_q)
        label = (f"{name} + its own prior (lam={choice.lam:g}, gamma={choice.gamma:g}, "
                 f"N={choice.n_candidates})")
        rows[label] = {"ndcg@10": float(ndcg.mean()), "recall@10": float(recall.mean()),
                       "se": standard_error(ndcg), "queries": len(test_q)}
    return rows
