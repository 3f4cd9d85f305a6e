"""`moviebot eval party`: group lists for synthetic groups of held-out MovieLens users.

Protocol. The validation users are those of `moviebot eval collab`'s split
(``split_users(ratings, seed)``: 60 % train, 20 % validation, 20 % test). Its test users
are not used as test users here: an earlier round looked at their party numbers while it
chose the method family. They join the training users instead, and as many of the
collab split's training users, drawn with the seed's own stream (``TEST_STREAM``), are the
party test users (``party_split``): users no party evaluation had scored before, and
disjoint from the validation users. A collaborative model of the served kind is trained
on the remaining users. A held-out user's earlier 80 % of ratings are their history
(folded in, as a chat user's is); their later liked films (>= 3.5 stars) are what the
group list should contain for them. Groups of 2-5 held-out users are drawn with seeded
generators, one for the validation and one for the test users. Each group gets one list
of 10 films, none rated by any member. ``--split validation`` scores the validation
groups alone, so tuning never prints a test number.

Metrics (engine/metrics.py): each member's NDCG@10 of the group list against their own
later likes; per group the mean and the minimum over the members; over groups the mean of
each with its standard error, and the paired difference to plain averaging.

Systems: ``popularity`` (most liked in training); ``plain average`` (the mean of the
members' raw scores, no veto, no fairness); ``random member`` (one member's personal
list); then the served aggregation (engine/party/aggregate.py: the candidate pool, the
veto ladder, benefits) with each variant (`Variant`: how a benefit is read off a member's
scores, and the fairness rule). The served default is chosen on the validation groups:
among variants whose mean NDCG@10 is within 5 % of plain averaging, the best mean among
those within one standard error of the best minimum-member NDCG@10 (``choose``); test
groups only report.

Not modelled here: content-neighbour candidates and watchlists (the content index is
built from all users' co-likes, so its neighbours would leak the test users' later
likes), and the franchise/director diversity pass (it needs the catalog's titles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import current_version, read_manifest
from ..collab.build import candidates as model_candidates
from ..collab.interactions import ML_SMALL, Interactions, load_ratings
from ..collab.models import RankingModel
from ..collab.split import HeldOut, Split, split_users
from ..collab.split import _held_out as held_out
from ..errors import MovieBotError
from ..metrics import EvalReport, markdown_table, mean_se, ndcg_at_k, paired_difference
from . import aggregate
from .serving import PER_MEMBER

K = 10
HISTORY = 0.8            # a held-out user's earlier share of ratings given as history
SIZES = (2, 3, 4, 5)
MEAN_TOLERANCE = 0.05    # the target: mean NDCG within 5 % of plain averaging
BASELINES = ("popularity", "plain average", "random member")


@dataclass(frozen=True)
class Variant:
    """One setting of the served aggregation: how a member's benefit is read off their
    scores (``benefit``: "score" with ``scale``, or "rank" with ``top`` and ``half``) and
    how the benefits are combined (``fairness`` with least misery's ``weight`` or nash's
    ``floor``)."""

    name: str
    fairness: str
    benefit: str = "score"
    scale: float = aggregate.SCALE
    top: float = aggregate.RANK_TOP
    half: float = aggregate.RANK_HALF
    weight: float = aggregate.LEAST_MISERY_WEIGHT
    floor: float = aggregate.NASH_FLOOR


VARIANTS = (
    [Variant("average", "average")]
    + [Variant(f"least misery w={w:g}", "least_misery", weight=w) for w in (0.25, 0.5)]
    + [Variant(f"proportional scale={t:g}", "proportional", scale=t) for t in (1.0, 2.0, 3.0, 5.0)]
    + [Variant(f"nash scale={t:g}", "nash", scale=t) for t in (1.0, 3.0)]
    + [Variant(f"{f} rank top={a:g} half={h:g}", f, "rank", top=a, half=h)
       for f in ("proportional", "nash") for a in (0.1, 0.3, 0.6) for h in (5.0, 20.0, 80.0)]
)
# the collab split's test users were looked at while the aggregation was first chosen, so
# the party test users are drawn afresh from its training users, with this stream of the seed
TEST_STREAM = 19

@dataclass
class Scored:
    """Per-user inputs of one held-out set: raw scores, history columns, later likes."""

    scores: np.ndarray          # users x items
    favourite: np.ndarray       # each user's best score among items not in their history
    seen: list[np.ndarray]
    targets: list[set[int]]
    ranks: np.ndarray           # each item's place in the user's own ranking of unseen items

    @classmethod
    def of(cls, model: RankingModel, held: HeldOut) -> Scored:
        scores = np.asarray(model.scores_batch(held.history), dtype=np.float64)
        seen = [held.history.getrow(u).indices for u in range(len(held))]
        favourite = np.array([np.delete(scores[u], cols).max() for u, cols in enumerate(seen)])
        every = np.arange(scores.shape[1])
        ranks = np.array([aggregate.own_ranks(scores[u], cols, every)
                          for u, cols in enumerate(seen)], dtype=np.float64).reshape(scores.shape)
        return cls(scores, favourite, seen, held.targets, ranks)


def draw_groups(n_users: int, per_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.choice(n_users, size, replace=False)
            for size in SIZES if size <= n_users for _ in range(per_size)]


def _top(scores: np.ndarray, exclude: np.ndarray, k: int = K) -> np.ndarray:
    s = np.array(scores, dtype=np.float64, copy=True)
    s[exclude] = -np.inf
    part = np.argpartition(-s, k - 1)[:k]
    return part[np.argsort(-s[part], kind="stable")]


def group_lists(data: Scored, group: np.ndarray, popularity: np.ndarray,
                rng: np.random.Generator, variants=VARIANTS) -> dict[str, np.ndarray]:
    """Every system's list of K item columns for one group."""
    seen_all = np.unique(np.concatenate([data.seen[u] for u in group]))
    lists = {
        "popularity": _top(popularity, seen_all),
        "plain average": _top(data.scores[group].mean(axis=0), seen_all),
        "random member": _top(data.scores[rng.choice(group)], seen_all),
    }
    pool = np.unique(np.concatenate(
        [aggregate.top_unseen(data.scores[u], data.seen[u], PER_MEMBER) for u in group]))
    pool = np.setdiff1d(pool, seen_all)
    scores = data.scores[np.ix_(group, pool)]
    # a held-out user's dislikes are in their history, which no list may repeat, so the
    # explicit veto has nothing left to remove here; the predicted one does
    predicted = aggregate.predicted_dislike(scores, data.favourite[group])
    keep, _ = aggregate.admissible(np.zeros(len(pool), dtype=bool), predicted)
    ranks = data.ranks[np.ix_(group, pool[keep])]
    for v in variants:
        utility = (aggregate.rank_benefit(ranks, v.top, v.half) if v.benefit == "rank"
                   else aggregate.benefit(scores[:, keep], v.scale))
        order, _ = aggregate.rank(utility, K, v.fairness, v.weight, v.floor)
        lists[v.name] = pool[keep][order]
    return lists


def score_groups(data: Scored, groups: list[np.ndarray], popularity: np.ndarray,
                 seed: int) -> dict[str, dict[str, np.ndarray]]:
    """system -> {"mean": per-group mean NDCG@10, "min": per-group minimum, "size"}."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list]] = {}
    for group in groups:
        for name, ranked in group_lists(data, group, popularity, rng).items():
            values = [ndcg_at_k(ranked.tolist(), data.targets[u], K) for u in group]
            row = out.setdefault(name, {"mean": [], "min": [], "size": []})
            row["mean"].append(float(np.mean(values)))
            row["min"].append(float(np.min(values)))
            row["size"].append(len(group))
    return {name: {k: np.asarray(v) for k, v in row.items()} for name, row in out.items()}


def summarise(scored: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    plain = scored["plain average"]
    table = {}
    for name, row in scored.items():
        mean, mean_err = mean_se(row["mean"])
        low, low_err = mean_se(row["min"])
        d_min, d_min_err = paired_difference(row["min"], plain["min"])
        d_mean, d_mean_err = paired_difference(row["mean"], plain["mean"])
        table[name] = {"mean_ndcg": mean, "mean_se": mean_err, "min_ndcg": low,
                       "min_se": low_err, "min_vs_plain": d_min, "min_vs_plain_se": d_min_err,
                       "mean_vs_plain": d_mean, "mean_vs_plain_se": d_mean_err,
                       "min_ratio": low / plain["min"].mean() if plain["min"].mean() else np.nan,
                       "mean_ratio": mean / plain["mean"].mean() if plain["mean"].mean() else np.nan,
                       "groups": len(row["mean"])}
    return table


def choose(table: dict[str, dict[str, float]]) -> str:
    """Among variants whose mean stays within MEAN_TOLERANCE of plain averaging, those
    whose minimum-member NDCG@10 is within one standard error (paired, against plain
    averaging) of the best; of these the one with the best mean. Why the standard error:
    the variants' minimums differ by far less than it, and the best by a hair is noise.
    (No variant within the tolerance: the best mean.)"""
    names = [v.name for v in VARIANTS]
    ok = [n for n in names if table[n]["mean_ratio"] >= 1 - MEAN_TOLERANCE]
    if not ok:
        return max(names, key=lambda n: table[n]["mean_ndcg"])
    best = max(ok, key=lambda n: table[n]["min_ndcg"])
    near = [n for n in ok if table[n]["min_ndcg"] >= table[best]["min_ndcg"]
            - table[best]["min_vs_plain_se"]]
    return max(near, key=lambda n: table[n]["mean_ndcg"])


def served_default() -> str:
    """The variant the server runs (aggregate.DEFAULT_FAIRNESS and its parameters)."""
    served = Variant("", aggregate.DEFAULT_FAIRNESS, aggregate.DEFAULT_BENEFIT)
    for v in VARIANTS:
        if all(getattr(v, f) == getattr(served, f) for f in _USED[(v.fairness, v.benefit)]):
            return v.name
    raise LookupError(f"the served default {served} is not among the evaluated variants")


_FAIRNESS_PARAMS = {"average": (), "least_misery": ("weight",), "proportional": (),
                    "nash": ("floor",)}
_BENEFIT_PARAMS = {"score": ("scale",), "rank": ("top", "half")}
# the fields that matter for a variant (the others keep their defaults and are ignored)
_USED = {(f, b): ("fairness", "benefit", *fp, *bp)
         for f, fp in _FAIRNESS_PARAMS.items() for b, bp in _BENEFIT_PARAMS.items()}


def model_kind(version_dir: Path | None) -> str | None:
    """The version's collab default ("als", "ease", ...), or None without a version."""
    if version_dir is None:
        return None
    try:
        entry = read_manifest(current_version(Path(version_dir)))["components"]["collab"]
        return entry["metrics"]["default"]
    except (MovieBotError, OSError, KeyError):
        return None


def party_split(ratings, seed: int, min_item_count: int) -> Split:
    """The collab split's training and validation users, with fresh test users.

    Validation users are ``split_users(ratings, seed)``'s, as before. Its test users were
    looked at while the aggregation was first chosen, so they become training users, and
    as many of its training users (drawn with the seed's ``TEST_STREAM``) become the test
    users: they were never in any party group, validation or test, until the final run."""
    base = split_users(ratings, seed=seed, min_item_count=min_item_count)
    trained = np.array(sorted(base.train.user_ids), dtype=object)
    rng = np.random.default_rng((seed, TEST_STREAM))
    n_test = int(ratings["user"].nunique() * 0.2)
    test_users = set(rng.choice(trained, n_test, replace=False))
    train_users = (set(trained) - test_users) | set(base.test.user_ids)
    train = Interactions.from_ratings(ratings[ratings["user"].isin(train_users)],
                                      min_item_count=min_item_count)
    held = {name: held_out(ratings[ratings["user"].isin(users)], train, HISTORY)
            for name, users in (("val", set(base.val.user_ids)), ("test", test_users))}
    return Split(train, held["val"], held["test"])


def evaluate(version_dir: Path | None, data_dir: Path, *, quick: bool = False, seed: int = 42,
             per_size: int | None = None, model: str | None = None,
             splits: tuple[str, ...] = ("validation", "test"), log=print) -> EvalReport:
    """Validation and test tables; ``model``: the collab kind to train (default: the
    version's own default, else EASE; --quick: ALS); ``splits``: validation alone while
    tuning, so the test groups stay unseen until the final run."""
    ratings = load_ratings(Path(data_dir) / ML_SMALL)
    split = party_split(ratings, seed, min_item_count=5 if quick else 2)
    kinds = {m.kind: m for m in model_candidates(quick)}
    kind = model or model_kind(version_dir) or ("als" if quick else "ease")
    if kind not in kinds:
        raise MovieBotError(f"Unknown collab model “{kind}”: one of {', '.join(kinds)}.")
    X = split.train.matrix(positive_only=False)
    fitted = kinds[kind].fit(X)
    popularity = np.log1p(np.asarray((X > 0).sum(axis=0), dtype=np.float64).ravel())
    per_size = per_size or (15 if quick else 1000)
    tables = {"model": kind, "k": K, "seed": seed, "per_size": per_size, "splits": list(splits)}
    for name, held, stream in (("validation", split.val, ()), ("test", split.test, (TEST_STREAM,))):
        if name not in splits:
            continue
        data = Scored.of(fitted, held)
        groups = draw_groups(len(held), per_size, np.random.default_rng((seed, *stream)))
        scored = score_groups(data, groups, popularity, seed)
        tables[name] = summarise(scored)
        tables[f"{name}_by_size"] = by_size(scored)
        log(f"  {name}: {len(groups)} groups of {len(held)} held-out users")
    tables["served_default"] = served_default()
    if "validation" in tables:
        tables["chosen_on_validation"] = choose(tables["validation"])
    scalars = {}
    if "test" in tables:
        test = tables["test"][tables["served_default"]]
        scalars = {"party_test_min_ndcg@10": test["min_ndcg"],
                   "party_test_mean_ndcg@10": test["mean_ndcg"],
                   "party_test_min_ratio": test["min_ratio"],
                   "party_test_mean_ratio": test["mean_ratio"]}
    return EvalReport("party", tables, scalars, markdown(tables))


def by_size(scored: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[int, dict]]:
    """system -> group size -> mean and minimum-member NDCG@10 with standard errors, and
    the minimum's ratio to plain averaging's (groups of 4-5 mostly have a minimum of 0, so
    the overall minimum rests on pairs and trios)."""
    out = {}
    plain = scored["plain average"]
    for name, row in scored.items():
        out[name] = {}
        for size in np.unique(row["size"]):
            at = row["size"] == size
            mean, mean_err = mean_se(row["mean"][at])
            low, low_err = mean_se(row["min"][at])
            base = plain["min"][plain["size"] == size].mean()
            out[name][int(size)] = {"mean_ndcg": mean, "mean_se": mean_err, "min_ndcg": low,
                                    "min_se": low_err,
                                    "min_ratio": low / base if base else float("nan")}
    return out


def markdown(tables: dict) -> str:
    lines = [f"Party evaluation: groups of {SIZES[0]}-{SIZES[-1]} held-out MovieLens users "
             f"({tables['per_size']} per size and split), collab model {tables['model']} "
             f"trained on the training users, seed {tables['seed']}. NDCG@{K} per member "
             "against their later likes; ± standard error over groups; Δ = paired difference "
             "to plain averaging.", ""]
    for split in ("validation", "test"):
        if split not in tables:
            continue
        table = tables[split]
        lines += [f"### {split} groups ({next(iter(table.values()))['groups']})", ""]
        rows = []
        for name, m in table.items():
            tag = ""
            if name == tables["served_default"]:
                tag += " (served default)"
            if name == tables.get("chosen_on_validation"):
                tag += " (chosen on validation)"
            rows.append([name + tag, f"{m['mean_ndcg']:.4f} ± {m['mean_se']:.4f}",
                         f"{m['min_ndcg']:.4f} ± {m['min_se']:.4f}",
                         f"{m['min_vs_plain']:+.4f} ± {m['min_vs_plain_se']:.4f}",
                         f"{m['min_ratio']:.2f}×", f"{m['mean_ratio']:.2f}×"])
        lines.append(markdown_table(["system", "mean NDCG@10", "min-member NDCG@10",
                                     "Δ min", "min / plain", "mean / plain"], rows))
        lines.append("")
        sizes = tables[f"{split}_by_size"]
        show = list(dict.fromkeys([*BASELINES, tables["served_default"],
                                   tables.get("chosen_on_validation", "plain average")]))
        lines.append(markdown_table(
            [f"{split}: by group size (mean / min-member NDCG@10, min / plain)",
             *map(str, SIZES)],
            [[name, *(f"{c['mean_ndcg']:.4f}±{c['mean_se']:.4f} / "
                      f"{c['min_ndcg']:.4f}±{c['min_se']:.4f} ({c['min_ratio']:.2f}×)"
                      if (c := sizes[name].get(s)) else "–" for s in SIZES)]
             for name in show]))
        lines.append("")
    if "test" in tables:
        target = tables["test"][tables["served_default"]]
        met = target["min_ratio"] >= 1.2 and target["mean_ratio"] >= 1 - MEAN_TOLERANCE
        lines += [f"Target (test, served default): min ≥ 1.2× plain averaging and mean "
                  f"within 5 %: {'met' if met else 'NOT met'} (min {target['min_ratio']:.2f}×, "
                  f"mean {target['mean_ratio']:.2f}×)."]
    return "\n".join(lines)


def write_json(tables: dict, path: Path) -> None:
    path.write_text(json.dumps(tables, indent=2, default=float))
