"""`moviebot eval content`'s one table for the hybrid: every row with a standard error and
a paired difference against the served model, on the same queries.

Models compared (all on the same test users' co-liked ground truth, evaluate.py):

* ``hybrid (served)``: the served list (hybrid.served_list: score, caps, franchise rule);
* ``content only``: the previous served score (fused content vectors + popularity
  rerank), i.e. "before";
* ``item-kNN co-likes``: the training users' co-like cosine alone (what /similar would be
  from ratings only); for cold films its content neighbours' co-like rows (as the collab
  engine gives cold films vectors, engine/collab/cold_items.py);
* single content blocks on the cold items (does the BiLSTM beat TF-IDF and metadata there),
  and the BiLSTM's audience head alone: its predicted audience vectors compared with each
  other (text only, like the blocks), and the cold query's prediction compared with every
  film's audience vector (real where the film is warm: the stand-in hybrid.py can serve);
  plus the hybrid with the audience stand-in switched the other way from what is served.

Product metrics: franchise hit rate (a query with siblings gets one in its top 10),
same-language share for non-English queries, and the distinct films across the top 10
of the 300 most-rated queries (a list that is the same blockbusters for everything
shows up here).

Cold items: a seeded ``COLD_SHARE`` of the films lose every training rating (as if just
released); their co-like signal is then absent and the table shows what each model makes
of them against the co-likes the test users actually have. ``moviebot eval content`` (not
the build: it refits the collab model) adds /recommend on the same cold films, per test
user, for each way of giving a cold film its collab vector (recommend_cold.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import markdown_table, mean_se, paired_difference
from . import hybrid
from .built import load_built
from .facets import FACETS, NEUTRAL_LANGUAGE, Facets
from .fusion import fuse, rerank_with_prior
from .hybrid import (
    CoLikes,
    HybridScorer,
    HybridWeights,
    colike_csr,
    like_matrix,
    served_list,
    top_rows,
)
from .metadata import vote_percentile
from .queryset import QuerySet, per_query_metrics
from .recommend_cold import SERVED as RECOMMEND_SERVED
from .recommend_cold import recommend_cold_rows

COLD_SHARE = 0.15
MOST_RATED = 300
COLD_NEIGHBOURS = 10
Ranker = Callable[[np.ndarray], np.ndarray]   # query rows -> (n, 10) ranked rows


def locale_queries(catalog: pd.DataFrame, seed: int, min_ratings: int = 5
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Non-English films with a few ratings, split in two seeded halves (validation, test)."""
    lang = catalog.get("original_language", pd.Series([""] * len(catalog))).fillna("")
    rows = np.flatnonzero((lang != "") & (lang != NEUTRAL_LANGUAGE)
                          & (catalog["rating_count"].to_numpy() >= min_ratings))
    rng = np.random.default_rng(seed + 1)
    rows = rows[rng.permutation(len(rows))]
    half = len(rows) // 2
    return np.sort(rows[:half]), np.sort(rows[half:])


def cold_movies(movie_ids: np.ndarray, seed: int, share: float = COLD_SHARE) -> np.ndarray:
    rng = np.random.default_rng(seed + 2)
    return np.sort(rng.choice(movie_ids, size=int(round(share * len(movie_ids))), replace=False))


def batched_ranks(scores: Callable[[np.ndarray], np.ndarray], queries: np.ndarray,
                  batch: int = 256) -> np.ndarray:
    return np.vstack([top_rows(scores(queries[i:i + batch])) for i in range(0, len(queries), batch)]
                     ) if len(queries) else np.zeros((0, 10), np.int64)


def served_ranks(scorer: HybridScorer, queries: np.ndarray, batch: int = 256) -> np.ndarray:
    out = []
    for i in range(0, len(queries), batch):
        rows = queries[i:i + batch]
        for q, s in zip(rows, scorer.scores(rows), strict=True):
            out.append(served_list(int(q), s, scorer.facets, 10))
    return np.array(out, dtype=np.int64).reshape(len(out), 10)


def content_scores(fused: np.ndarray, prior: np.ndarray, lam: float, n_candidates: int):
    """The previous served score: top ``n_candidates`` by fused cosine, reranked with the prior."""
    def score(rows: np.ndarray) -> np.ndarray:
        cos = (fused[rows] @ fused.T).astype(np.float64)
        cos[np.arange(len(rows)), rows] = -np.inf
        return rerank_with_prior(cos, prior, lam, n_candidates) if lam else cos
    return score


def colike_scores(co: CoLikes, fused: np.ndarray, cold_rows: np.ndarray | None = None,
                  popularity: np.ndarray | None = None):
    """Item-kNN on the training users' likes; a film without likes borrows its content
    neighbours' co-like rows; exact ties (no co-likes at all) go to the more popular film."""
    has_fans = co.fans > 0
    tiebreak = (np.zeros(len(co.fans)) if popularity is None
                else 1e-6 * popularity.argsort().argsort() / len(popularity))

    def score(rows: np.ndarray) -> np.ndarray:
        cos, _ = co.rows(rows)
        out = cos.astype(np.float64)
        lonely = np.flatnonzero(~has_fans[rows])
        if len(lonely):
            content = fused[rows[lonely]] @ fused[has_fans].T
            warm = np.flatnonzero(has_fans)
            nb = np.argpartition(-content, COLD_NEIGHBOURS, axis=1)[:, :COLD_NEIGHBOURS]
            weights = np.clip(np.take_along_axis(content, nb, axis=1), 0, None)
            weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
            for j, (i, n, w) in enumerate(zip(lonely, nb, weights, strict=True)):
                borrowed, _ = co.rows(warm[n])
                out[i] = (w[:, None] * borrowed).sum(axis=0)
                out[i, rows[lonely[j]]] = 0
        out += tiebreak[None, :]
        out[np.arange(len(rows)), rows] = -np.inf
        return out
    return score


class Table:
    """Rows of (section, model) -> value, SE, paired difference to the section's served row."""

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def add(self, section: str, model: str, values: np.ndarray, served: np.ndarray | None,
            clusters: np.ndarray | None = None) -> None:
        mean, se = mean_se(values, clusters)
        row = {"section": section, "model": model, "value": mean, "se": se, "n": int(len(values))}
        if served is not None and len(values):
            row["delta"], row["se_delta"] = paired_difference(values, served, clusters)
        self.rows[f"{section} | {model}"] = row

    def add_scalar(self, section: str, model: str, value: float, n: int) -> None:
        self.rows[f"{section} | {model}"] = {"section": section, "model": model, "value": value,
                                             "se": None, "n": n}

    def format(self) -> str:
        out = []
        for row in self.rows.values():
            se = f" ± {row['se']:.4f}" if row.get("se") is not None else ""
            delta = (f"{row['delta']:+.4f} ± {row['se_delta']:.4f}" if "delta" in row
                     and "(served)" not in row["model"] else "")
            out.append((row["section"], row["model"], f"{row['value']:.4f}{se}", delta, str(row["n"])))
        return markdown_table(("metric", "model", "value ± SE", "vs the section's served row (paired)",
                               "queries (users for /recommend)"), out)


def ndcg_of(ranked: np.ndarray, qs: QuerySet) -> np.ndarray:
    return per_query_metrics(ranked, qs)[0] if len(qs) else np.zeros(0)


def evaluate_hybrid(*, catalog: pd.DataFrame, ratings: pd.DataFrame, blocks: Mapping[str, np.ndarray],
                    fused: np.ndarray, percentile: np.ndarray, content_choice, weights: HybridWeights,
                    cf, facets: Facets, train_users: np.ndarray, test_q: QuerySet, seed: int,
                    quick: bool = False, audience: np.ndarray | None = None,
                    audience_predicted: np.ndarray | None = None,
                    audience_warm: np.ndarray | None = None,
                    audience_alternative: float = 0.0) -> Table:
    movie_ids = catalog["movie_id"].to_numpy(np.int64)
    table = Table()
    scorer = HybridScorer(fused, percentile, cf, facets, weights, audience, audience_warm)
    co = CoLikes(like_matrix(ratings, train_users, movie_ids))
    content = content_scores(fused, percentile ** content_choice.gamma, content_choice.lam,
                             content_choice.n_candidates)
    votes = pd.to_numeric(catalog["vote_count"], errors="coerce").fillna(0).to_numpy(float)
    knn = colike_scores(co, fused, popularity=votes)
    rankers: dict[str, Ranker] = {
        "hybrid (served)": lambda q: served_ranks(scorer, q),
        "hybrid score, no caps/franchise rule": lambda q: batched_ranks(scorer.scores, q),
        "content only (before)": lambda q: batched_ranks(content, q),
        "item-kNN co-likes": lambda q: batched_ranks(knn, q),
        "hybrid without facets": lambda q: batched_ranks(HybridScorer(
            fused, percentile, cf, facets, HybridWeights(**{**weights.__dict__, "w_franchise": 0.0,
                                                            "w_creator": 0.0, "w_locale": 0.0})).scores, q),
    }

    # 1. co-liked NDCG@10, warm queries (test users)
    ranked = {name: r(test_q.queries) for name, r in rankers.items()}
    served = ndcg_of(ranked["hybrid (served)"], test_q)
    for name, r in ranked.items():
        table.add("co-liked NDCG@10 (test users)", name, ndcg_of(r, test_q), served)

    # 2. franchise hit rate: queries with a sibling anywhere in the catalog
    with_siblings = np.flatnonzero([(facets.franchise == f).sum() > 1 if f >= 0 else False
                                    for f in facets.franchise])
    collection = (catalog["collection"].fillna("").to_numpy() if "collection" in catalog
                  else np.array([""] * len(catalog)))
    in_collection = with_siblings[[bool(collection[i]) and (collection == collection[i]).sum() > 1
                                   for i in with_siblings]]
    for section, queries in (("franchise hit rate (TMDB collection)", in_collection),
                             ("franchise hit rate (collection or sequel title)", with_siblings)):
        if not len(queries):
            continue
        hits = {name: np.array([bool(set(row.tolist()) & set(facets.siblings(int(q)).tolist()))
                                for q, row in zip(queries, r(queries), strict=True)], dtype=float)
                for name, r in rankers.items() if name != "hybrid without facets"}
        for name, h in hits.items():
            table.add(section, name, h, hits["hybrid (served)"])

    # 3. same-language share, non-English test-half queries
    _, lang_q = locale_queries(catalog, seed)
    if len(lang_q):
        shares = {}
        for name, r in rankers.items():
            lists = r(lang_q)
            lang = np.asarray(facets.language, dtype=object)
            shares[name] = (lang[lists] == lang[lang_q][:, None]).mean(axis=1).astype(float)
        for name, s in shares.items():
            table.add("same-language share, non-English queries", name, s, shares["hybrid (served)"])

    # 4. distinct films across the top 10 of the most-rated queries
    top_q = np.sort(np.argsort(-catalog["rating_count"].to_numpy(), kind="stable")[:MOST_RATED])
    for name, r in rankers.items():
        table.add_scalar(f"distinct films in top 10 of {MOST_RATED} most-rated", name,
                         float(len(np.unique(r(top_q)))), len(top_q))

    # 5. cold items: a share of films lose all training ratings
    cold_ids = cold_movies(movie_ids, seed)
    cold_rows = np.flatnonzero(np.isin(movie_ids, cold_ids))
    keep = np.isin(test_q.queries, cold_rows)
    cold_q = QuerySet(test_q.queries[keep], [r for r, k in zip(test_q.relevant, keep, strict=True) if k])
    if len(cold_q):
        co_cold = CoLikes(like_matrix(ratings, train_users, movie_ids, cold=cold_ids))
        cf_cold, _ = colike_csr(co_cold, weights.beta, weights.min_co, fan_prior=weights.fan_prior)
        cold_scorer = HybridScorer(fused, percentile, cf_cold, facets, weights, audience,
                                   audience_warm)
        cold_rankers: dict[str, Ranker] = {
            "hybrid (served)": lambda q: served_ranks(cold_scorer, q),
            "content only (before)": lambda q: batched_ranks(content, q),
            "item-kNN co-likes (content-neighbour fallback)": lambda q: batched_ranks(
                colike_scores(co_cold, fused, popularity=votes), q),
        }
        if audience is not None and (np.abs(audience).sum() > 0):
            other = 0.0 if weights.w_audience else audience_alternative
            label = ("hybrid without audience stand-in" if weights.w_audience else
                     f"hybrid + audience stand-in (w {other:g}, not served)")
            if weights.w_audience or other:
                alt = HybridScorer(fused, percentile, cf_cold, facets,
                                   HybridWeights(**{**weights.__dict__, "w_audience": other}), audience,
                                   audience_warm)
                cold_rankers[label] = lambda q, s=alt: served_ranks(s, q)
            predicted = _unit(audience_predicted) if audience_predicted is not None else None
            if predicted is not None and np.abs(predicted).sum() > 0:
                cold_rankers["bilstm audience head only (text → predicted audience)"] = (
                    lambda q, b=predicted: batched_ranks(lambda r: _cos(b, r), q))
            queries_side = _unit(audience)
            real_side = queries_side * np.asarray(audience_warm, dtype=np.float32)[:, None]
            cold_rankers["bilstm audience head → warm films' real audience vectors"] = (
                lambda q, a=queries_side, b=real_side: batched_ranks(
                    lambda r: _cross_cos(a, b, r), q))
        for name, vecs in blocks.items():
            if (np.linalg.norm(vecs, axis=1) > 0).any():
                block = fuse({name: vecs}, {name: 1.0})
                cold_rankers[f"{name} block only"] = (
                    lambda q, b=block: batched_ranks(lambda r: _cos(b, r), q))
        cold = {name: ndcg_of(r(cold_q.queries), cold_q) for name, r in cold_rankers.items()}
        for name, v in cold.items():
            table.add(f"cold items: co-liked NDCG@10 ({COLD_SHARE:.0%} of films unrated)", name, v,
                      cold["hybrid (served)"])
    return table


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _cross_cos(queries: np.ndarray, candidates: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = (queries[rows] @ candidates.T).astype(np.float64)
    out[np.arange(len(rows)), rows] = -np.inf
    return out


def _cos(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = (block[rows] @ block.T).astype(np.float64)
    out[np.arange(len(rows)), rows] = -np.inf
    return out



def hybrid_report(version_dir: Path, data_dir: Path, *, ratings_path: Path | None, split,
                  co_liked) -> Table | None:
    """The hybrid table of a built version (None for versions built before it); ``split``
    and ``co_liked`` are evaluate.split_users3 / co_liked_queries (passed in: evaluate.py
    imports this module, not the other way round)."""
    content = Path(version_dir) / "content"
    if not ((content / hybrid.HYBRID).exists() and (content / FACETS).exists()):
        return None
    built = load_built(version_dir, data_dir, ratings_path)
    config, catalog, ratings = built.config, built.catalog, built.ratings
    blocks, choice, movie_ids = built.blocks, built.choice, built.movie_ids
    train_users, _, test_users = split(ratings, config["seed"])
    weights, cf, _, meta = hybrid.load(content)
    audience = predicted = warm = None
    if (content / "audience_warm.npy").exists():
        audience = np.load(content / "audience.npy")
        predicted = np.load(content / "audience_predicted.npy")
        warm = np.load(content / "audience_warm.npy")
    fused, percentile, facets = fuse(blocks, choice.weights), vote_percentile(catalog), Facets.load(content)
    table = evaluate_hybrid(
        catalog=catalog, ratings=ratings, blocks=blocks, fused=fused,
        percentile=percentile, content_choice=choice, weights=weights, cf=cf,
        facets=facets, train_users=train_users,
        test_q=co_liked(ratings, test_users, movie_ids, **config.get("co_liked", {})),
        seed=config["seed"], audience=audience, audience_predicted=predicted, audience_warm=warm,
        audience_alternative=best_nonzero_audience(meta))
    # /recommend on the same cold films: a collab refit, so only here, not in the build
    cold_ids = cold_movies(movie_ids, config["seed"])
    cf_cold, _ = colike_csr(CoLikes(like_matrix(ratings, train_users, movie_ids, cold=cold_ids)),
                            weights.beta, weights.min_co, fan_prior=weights.fan_prior)
    rows = recommend_cold_rows(
        version_dir=Path(version_dir), catalog=catalog, ratings=ratings, train_users=train_users,
        test_users=test_users, cold_ids=cold_ids, fused=fused, audience=audience, audience_warm=warm,
        cold_scorer=HybridScorer(fused, percentile, cf_cold, facets, weights, audience, warm))
    if rows:
        section = f"/recommend, cold films ({COLD_SHARE:.0%} unrated): NDCG@10 among them"
        for name, values in rows.items():
            table.add(section, name, values, rows[RECOMMEND_SERVED])
    return table


def best_nonzero_audience(meta: dict) -> float:
    """The audience weight with the best cold validation NDCG@10 other than 0 (for the row
    showing what the stand-in would do when validation left it out)."""
    scores = {float(k): v for k, v in
              meta.get("audience", {}).get("cold_val_ndcg@10", {}).items() if float(k)}
    return max(scores, key=lambda k: (scores[k], -k)) if scores else 0.0
