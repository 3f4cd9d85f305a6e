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
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import ComponentMissing
from ..metrics import EvalReport, markdown_table, mean_se, paired_difference
from .built import load_built
from .fusion import K, choose_fusion, fuse, l2_rows, rerank_with_prior
from .layout import CONFIG
from .metadata import genre_matrix, vote_percentile
from .queryset import QuerySet, per_query_metrics

log = logging.getLogger("moviebot.content.eval")

LIKE = 4.0
ADDED_WEIGHT = 0.1   # "served plus X": an unused block at the weight grid's step


def split_users(ratings: pd.DataFrame, seed: int = 42, val_share: float = 0.5
                ) -> tuple[np.ndarray, np.ndarray]:
    users = np.sort(ratings["userId"].unique())
    rng = np.random.default_rng(seed)
    rng.shuffle(users)
    n_val = int(round(len(users) * val_share))
    return np.sort(users[:n_val]), np.sort(users[n_val:])


def split_users3(ratings: pd.DataFrame, seed: int = 42, train_share: float = 0.5
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training, validation, test) users. Training users' likes are the hybrid's co-like
    signal (hybrid.py); the rest are split as ``split_users`` splits everyone, so
    validation users choose every weight and test users only score."""
    users = np.sort(ratings["userId"].unique())
    rng = np.random.default_rng(seed + 7)
    rng.shuffle(users)
    n_train = int(round(len(users) * train_share))
    rest = ratings[ratings["userId"].isin(users[n_train:])]
    val, test = split_users(rest, seed)
    return np.sort(users[:n_train]), val, test


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


def ranking_metrics(ranked: np.ndarray, qs: QuerySet, k: int = K) -> dict[str, float]:
    ndcg, recall = per_query_metrics(ranked, qs, k)
    return {"ndcg@10": float(ndcg.mean()), "recall@10": float(recall.mean())}


def evaluate_scores(scores: np.ndarray, qs: QuerySet) -> dict[str, float]:
    return ranking_metrics(top_k(scores, qs.queries), qs)


def table_row(ndcg: np.ndarray, recall: np.ndarray, clusters: np.ndarray | None = None) -> dict:
    """One row of the table: mean NDCG@10 with its standard error, mean recall@10."""
    mean, se = mean_se(ndcg, clusters)
    return {"ndcg@10": mean, "recall@10": float(recall.mean()), "se": se, "queries": len(ndcg)}


# -- scorers: (query rows) -> (n_queries, n_movies) scores ---------------------------
def cosine_scorer(vectors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
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
        return rerank_with_prior(cos, prior, lam, n_candidates)
    return score


def evaluate_all(blocks: Mapping[str, np.ndarray], fused: np.ndarray, catalog: pd.DataFrame,
                 qs: QuerySet, percentile: np.ndarray, choice) -> dict[str, dict[str, float]]:
    """The table: each block alone, the served score, the served score without each of its
    blocks (paired difference to the served row, so "does fusing X help" has an answer
    with an error bar), and the baselines."""
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
        row = table_row(ndcg, recall, qs.users)
        if name.startswith(("served without", "served plus")):
            delta, se_delta = paired_difference(ndcg, served_ndcg, qs.users)
            row.update({"delta_ndcg@10": delta, "se_delta": se_delta})
        table[name] = row
    return table


def _batched(scorer, queries: np.ndarray, batch: int = 1024) -> np.ndarray:
    return np.vstack([np.asarray(scorer(queries[i:i + batch]), dtype=np.float32)
                      for i in range(0, len(queries), batch)])


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    rows = []
    for name, row in table.items():
        se = f" ± {row['se']:.4f}" if "se" in row else ""
        delta = (f"{row['delta_ndcg@10']:+.4f} ± {row['se_delta']:.4f}" if "delta_ndcg@10" in row else "")
        rows.append((name, f"{row['ndcg@10']:.4f}{se}", f"{row['recall@10']:.4f}", delta))
    return markdown_table(("model", "NDCG@10 ± SE", "recall@10", "vs served (paired)"), rows)


def load_ratings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, usecols=["userId", "movieId", "rating"])


def query_sets(ratings: pd.DataFrame, movie_ids: np.ndarray, users: np.ndarray, config: Mapping
               ) -> dict[str, QuerySet]:
    """Both ground truths for one user group, with the parameters stored in content.json."""
    co = config.get("co_liked", {})
    return {"co-liked": co_liked_queries(ratings, users, movie_ids, **co),
            "per user": make_queries(ratings, users, movie_ids, config["per_user"], config["seed"])}


def content_report(version_dir: Path, data_dir: Path, *, ratings_path: Path | None = None,
                   prior_rows: bool = False) -> EvalReport:
    """Recompute the test-user tables (one per ground truth) of a built version (the
    hybrid's table is added by ``evaluate``, what `moviebot eval content` runs)."""
    from . import hybrid
    from .facets import FACETS

    content = Path(version_dir) / "content"
    if not (content / CONFIG).exists():
        raise ComponentMissing("content")
    built = load_built(version_dir, data_dir, ratings_path)
    config, catalog, ratings = built.config, built.catalog, built.ratings
    blocks, choice, movie_ids = built.blocks, built.choice, built.movie_ids
    has_hybrid = (content / hybrid.HYBRID).exists() and (content / FACETS).exists()
    if has_hybrid:
        _, val_users, test_users = split_users3(ratings, config["seed"])
    else:  # versions built before the hybrid split users in two
        val_users, test_users = split_users(ratings, config["seed"])
    percentile = vote_percentile(catalog)
    fused = fuse(blocks, choice.weights)
    test_sets = query_sets(ratings, movie_ids, test_users, config)
    tables = {name: evaluate_all(blocks, fused, catalog, qs, percentile, choice)
              for name, qs in test_sets.items()}
    if prior_rows:
        val_q = co_liked_queries(ratings, val_users, movie_ids, **config.get("co_liked", {}))
        tables["co-liked"].update(block_prior_rows(blocks, percentile, val_q, test_sets["co-liked"]))
    return EvalReport("content", tables, scalars(tables), format_tables(tables))


def scalars(tables: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """The served score as scalars (as the build stage writes them into the manifest)."""
    out = {"test_ndcg@10": round(tables["co-liked"]["fused (served)"]["ndcg@10"], 4),
           "test_ndcg@10_per_user": round(tables["per user"]["fused (served)"]["ndcg@10"], 4)}
    served = tables.get("hybrid", {}).get("co-liked NDCG@10 (test users) | hybrid (served)")
    if served:
        out["test_hybrid_ndcg@10"] = round(served["value"], 4)
    return out


def format_tables(tables: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """What `moviebot eval content` prints: one table per ground truth."""
    return "\n".join(f"\n## {name} ground truth, test users "
                     f"({next(iter(table.values()))['queries']} queries)\n\n{format_table(table)}"
                     for name, table in tables.items())


def block_prior_rows(blocks, percentile, val_q: QuerySet, test_q: QuerySet) -> dict:
    """Each block alone plus its own two-stage popularity rerank (chosen on validation the
    same way as the served score).

    A fairer comparison for the served score than the bare blocks: it shows how much
    of the gain is the prior and how much is the fusion.
    """
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
        rows[label] = table_row(ndcg, recall)
    return rows


def evaluate(version_dir: Path, data_dir: Path, *, ratings_path: Path | None = None,
             prior_rows: bool = False) -> EvalReport:
    """`moviebot eval content`: the hybrid's table first (versions that have it), then the
    content tables (``content_report``)."""
    from .hybrid_eval import hybrid_report

    report = content_report(version_dir, data_dir, ratings_path=ratings_path, prior_rows=prior_rows)
    table = hybrid_report(version_dir, data_dir, ratings_path=ratings_path,
                          split=split_users3, co_liked=co_liked_queries)
    if table is None:
        return report
    tables = {"hybrid": table.rows, **report.tables}
    text = (f"\n## hybrid /similar (served), test users; paired differences against it\n\n"
            f"{table.format()}\n{report.text}")
    return EvalReport("content", tables, scalars(tables), text)
