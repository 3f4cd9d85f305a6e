"""`moviebot eval collab`: every model side by side on held-out users, plus rating errors.

Ranking: users split 60/20/20 (train/validation/test); a held-out user's earlier 80 % of
ratings are folded in and their later liked films must be found. The default model is the
best on *validation* NDCG@10 (as in the build); test numbers are reported for all, and the
default is scored a second time through its Annoy index to measure what serving costs.
Rating prediction: a random 80/20 split of the ratings; RMSE and MAE.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .interactions import ML_100K, ML_SMALL, Interactions, load_ratings
from .metrics import rating_errors
from .models import RankingModel
from .ranking_eval import calibrate_search_k, evaluate
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
    from .build import candidates
    from .peers import ImplicitALS

    models = candidates(quick)
    try:
        import implicit  # noqa: F401 - benchmark-only extra
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
        report.validation[model.kind] = evaluate(model, split.val, K)[f"ndcg@{K}"]
        test = evaluate(model, split.test, K)
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
    served = evaluate(model, split.test, K, index=index)
    exact = report.ranking[report.default][f"ndcg@{K}"]
    report.annoy = {"model": report.default, "search_k": search_k, "val_recall@10": recall,
                    "exact_ndcg@10": exact,
                    "annoy_ndcg@10": served[f"ndcg@{K}"],
                    "loss_pct": round(100 * (exact - served[f"ndcg@{K}"]) / exact, 3)}


def run_rating(ratings: pd.DataFrame, report: DatasetReport, quick: bool, seed: int,
               log=print) -> None:
    from .models.rating_blend import RatingBlend
    from .peers import surprise_errors

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


# -- presentation ----------------------------------------------------------------
RANK_COLS = ["precision@10", "recall@10", "ndcg@10", "hr@10", "map@10", "coverage"]


def markdown(reports: list[DatasetReport]) -> str:
    lines = []
    for r in reports:
        lines += [f"### {r.name} ({r.ratings:,} ratings; test users: "
                  f"{next(iter(r.ranking.values()))['users']})", "",
                  "| model | val NDCG@10 | " + " | ".join(RANK_COLS) + " | fit s |",
                  "|---|" + "---|" * (len(RANK_COLS) + 2)]
        for name, m in r.ranking.items():
            star = " (default)" if name == r.default else ""
            lines.append(f"| {name}{star} | {r.validation[name]:.4f} | "
                         + " | ".join(f"{m[c]:.4f}" for c in RANK_COLS)
                         + f" | {m['fit_seconds']} |")
        a = r.annoy
        lines += ["", f"Served through Annoy ({a['model']}, search_k {a['search_k']}): NDCG@10 "
                  f"{a['annoy_ndcg@10']:.4f} vs exact {a['exact_ndcg@10']:.4f} "
                  f"(loss {a['loss_pct']:.2f} %).", "",
                  "| rating predictor | RMSE | MAE | fit s |", "|---|---|---|---|"]
        for name, m in r.rating.items():
            lines.append(f"| {name} | {m['rmse']:.4f} | {m['mae']:.4f} | {m['fit_seconds']} |")
        lines.append("")
    return "\n".join(lines)


def chart(reports: list[DatasetReport], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(reports), figsize=(5 * len(reports), 3.2), squeeze=False)
    for ax, r in zip(axes[0], reports, strict=True):
        names = list(r.ranking)
        ndcg = [r.ranking[n]["ndcg@10"] for n in names]
        colors = ["tab:orange" if n == r.default else "tab:blue" for n in names]
        ax.barh(names, ndcg, color=colors)
        ax.set_title(f"{r.name}: test NDCG@10 (orange = default)", fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def to_json(reports: list[DatasetReport]) -> list[dict]:
    return [r.__dict__ for r in reports]


def write_outputs(reports: list[DatasetReport], json_path: Path | None,
                  md_path: Path | None, chart_path: Path | None) -> None:
    if json_path:
        json_path.write_text(json.dumps(to_json(reports), indent=2, default=float))
    if md_path:
        md_path.write_text(markdown(reports))
    if chart_path:
        chart(reports, chart_path)
