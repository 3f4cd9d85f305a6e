"""`moviebot eval collab`: every model side by side on held-out users, plus rating errors.

Ranking: users split 60/20/20 (train/validation/test); a held-out user's earlier 80 % of
ratings are folded in and their later liked films must be found. The default model is the
best on *validation* NDCG@10 (as in the build); test numbers are reported for all, and the
default is scored a second time through its Annoy index to measure what serving costs.
Rating prediction: a random 80/20 split of the ratings; RMSE and MAE.

``evaluate(version_dir, data_dir)`` without options reports the version's own held-out
validation table, measured by the build on the version's split (re-measuring it would
mean retraining); ``benchmark=True`` runs the side-by-side above on the raw data.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import read_manifest
from ..errors import ComponentMissing
from ..metrics import EvalReport, markdown_table, rating_errors
from .build import candidates
from .interactions import ML_100K, ML_SMALL, Interactions, load_ratings
from .models import RankingModel
from .models.rating_blend import RatingBlend
from .peers import ImplicitALS, surprise_errors
from .ranking_eval import calibrate_search_k, score_model
from .split import split_users
from .vectors import VectorIndex

DATASETS = {"ml-latest-small": ML_SMALL, "ml-100k": ML_100K}
K = 10


@dataclass
class DatasetReport:
    name: str
    ratings: int
    ranking: dict[str, dict] = field(default_factory=dict)     # model -> test metrics
    validation: dict[str, float] = field(default_factory=dict)  # model -> val ndcg@10
    default: str = ""
    annoy: dict = field(default_factory=dict)
    rating: dict[str, dict] = field(default_factory=dict)


def ranking_models(quick: bool) -> list[RankingModel]:
    models = candidates(quick)
    try:
        import implicit  # noqa: F401 - lazy: is the benchmark-only extra installed?
        models.append(ImplicitALS(factors=32 if quick else 64, iterations=5 if quick else 15))
    except ImportError:
        pass
    return models


def run_ranking(ratings: pd.DataFrame, report: DatasetReport, quick: bool, seed: int,
                log=print) -> None:
    split = split_users(ratings, seed=seed, min_item_count=5 if quick else 2)
    X = split.train.matrix(positive_only=False)
    fitted = {}
    for model in ranking_models(quick):
        started = time.perf_counter()
        model.fit(X)
        fit_s = time.perf_counter() - started
        report.validation[model.kind] = score_model(model, split.val, K)[f"ndcg@{K}"]
        test = score_model(model, split.test, K)
        test["fit_seconds"] = round(fit_s, 2)
        report.ranking[model.kind] = test
        fitted[model.kind] = model
        log(f"  {model.kind:<13} val ndcg@10 {report.validation[model.kind]:.4f}  "
            f"test ndcg@10 {test['ndcg@10']:.4f}  ({fit_s:.1f}s)")
    ours = [k for k in report.validation if k in {"popularity", "als", "ease", "autoencoder"}]
    report.default = max(ours, key=report.validation.get)
    model = fitted[report.default]
    index = VectorIndex.build(model.item_vectors(), trees=50, seed=seed)
    search_k, recall = calibrate_search_k(model, index, split.val)   # as the build does
    served = score_model(model, split.test, K, index=index)
    exact = report.ranking[report.default][f"ndcg@{K}"]
    report.annoy = {"model": report.default, "search_k": search_k, "val_recall@10": recall,
                    "exact_ndcg@10": exact,
                    "annoy_ndcg@10": served[f"ndcg@{K}"],
                    "loss_pct": round(100 * (exact - served[f"ndcg@{K}"]) / exact, 3)}


def run_rating(ratings: pd.DataFrame, report: DatasetReport, quick: bool, seed: int,
               log=print) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random(len(ratings)) < 0.8
    train, test = ratings[mask], ratings[~mask]
    inter = Interactions.from_ratings(train)
    users = {u: i for i, u in enumerate(inter.user_ids)}
    started = time.perf_counter()
    blend = RatingBlend(factors=16 if quick else 32, iterations=5 if quick else 15)
    blend.fit(train["user"].map(users).to_numpy(), inter.item_index(train["item"].to_numpy()),
              train["rating"].to_numpy(), inter.n_users, inter.n_items)
    parts = blend.predict_parts(test["user"].map(users).fillna(-1).astype(int).to_numpy(),
                                inter.item_index(test["item"].to_numpy()))
    seconds = round(time.perf_counter() - started, 1)   # both parts together
    for name, pred in parts.items():
        report.rating[name] = {**rating_errors(test["rating"].to_numpy(), pred),
                               "fit_seconds": seconds}
    report.rating.update(surprise_errors(train, test, seed,
                                         which=("SVD",) if quick else ("SVD", "SVDpp")))
    for name, m in report.rating.items():
        log(f"  {name:<13} rmse {m['rmse']:.4f}  mae {m['mae']:.4f}  ({m['fit_seconds']}s)")


def run(data_dir: Path, datasets: list[str], quick: bool = False, seed: int = 42,
        log=print) -> list[DatasetReport]:
    reports = []
    for name in datasets:
        ratings = load_ratings(Path(data_dir) / DATASETS[name])
        report = DatasetReport(name, len(ratings))
        log(f"{name}: {len(ratings):,} ratings, {ratings['user'].nunique():,} users")
        run_ranking(ratings, report, quick, seed, log)
        run_rating(ratings, report, quick, seed, log)
        reports.append(report)
    return reports


def evaluate(version_dir: Path | None, data_dir: Path, *, benchmark: bool = False,
             datasets: list[str] | None = None, quick: bool = False, seed: int = 42,
             log=print) -> EvalReport:
    """The version's held-out validation table, or with ``benchmark`` every model side by
    side on ``datasets`` (default: all; ``version_dir`` is not read then)."""
    if not benchmark:
        entry = read_manifest(Path(version_dir)).get("components", {}).get("collab")
        if entry is None:
            raise ComponentMissing("collab")
        metrics = entry.get("metrics", {})
        validation = metrics.get("validation", {})
        scalars = {k: v for k, v in metrics.items() if k == "val_ndcg@10"}
        return EvalReport("collab", validation, scalars, json.dumps(validation, indent=2))
    reports = run(data_dir, datasets or list(DATASETS), quick=quick, seed=seed, log=log)
    tables = to_json(reports)
    scalars = {f"{r['name']}_{r['default']}_test_ndcg@{K}": r["ranking"][r["default"]][f"ndcg@{K}"]
               for r in tables}
    return EvalReport("collab", tables, scalars, "\n" + markdown(tables))


# -- presentation ----------------------------------------------------------------
RANK_COLS = ["precision@10", "recall@10", "ndcg@10", "hr@10", "map@10", "coverage"]


def markdown(tables: list[dict]) -> str:
    """The Markdown tables of ``to_json(reports)``."""
    lines = []
    for r in tables:
        lines += [f"### {r['name']} ({r['ratings']:,} ratings; test users: "
                  f"{next(iter(r['ranking'].values()))['users']})", ""]
        lines.append(markdown_table(
            ["model", "val NDCG@10", *RANK_COLS, "fit s"],
            ([f"{name}{' (default)' if name == r['default'] else ''}",
              f"{r['validation'][name]:.4f}", *(f"{m[c]:.4f}" for c in RANK_COLS),
              str(m["fit_seconds"])] for name, m in r["ranking"].items())))
        a = r["annoy"]
        lines += ["", f"Served through Annoy ({a['model']}, search_k {a['search_k']}): NDCG@10 "
                  f"{a['annoy_ndcg@10']:.4f} vs exact {a['exact_ndcg@10']:.4f} "
                  f"(loss {a['loss_pct']:.2f} %).", ""]
        lines.append(markdown_table(
            ["rating predictor", "RMSE", "MAE", "fit s"],
            ([name, f"{m['rmse']:.4f}", f"{m['mae']:.4f}", str(m["fit_seconds"])]
             for name, m in r["rating"].items())))
        lines.append("")
    return "\n".join(lines)


def chart(tables: list[dict], path: Path) -> None:
    import matplotlib  # lazy: matplotlib is slow to import and only the chart needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 3.2), squeeze=False)
    for ax, r in zip(axes[0], tables, strict=True):
        names = list(r["ranking"])
        ndcg = [r["ranking"][n]["ndcg@10"] for n in names]
        colors = ["tab:orange" if n == r["default"] else "tab:blue" for n in names]
        ax.barh(names, ndcg, color=colors)
        ax.set_title(f"{r['name']}: test NDCG@10 (orange = default)", fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def to_json(reports: list[DatasetReport]) -> list[dict]:
    return [r.__dict__ for r in reports]


def write_outputs(tables: list[dict], json_path: Path | None,
                  md_path: Path | None, chart_path: Path | None) -> None:
    """``tables``: ``to_json(reports)`` (an ``EvalReport``'s tables)."""
    if json_path:
        json_path.write_text(json.dumps(tables, indent=2, default=float))
    if md_path:
        md_path.write_text(markdown(tables))
    if chart_path:
        chart(tables, chart_path)
