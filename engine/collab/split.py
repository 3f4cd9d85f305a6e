"""The held-out-users protocol: the models never see the users they are scored on.

Users are split into train / validation / test. A held-out user's ratings are sorted by
time: the earlier ``history_frac`` are given to the model (folded in, exactly as a chat
user's history is at request time) and their *later* liked films (>= 3.5 stars) must be
found. Validation users choose hyper-parameters and the default model; test users give
the reported numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .interactions import Interactions
from .signals import POSITIVE_AT


@dataclass
class HeldOut:
    """Held-out users in the model's item space: fold-in input rows and targets."""

    history: sp.csr_matrix     # users x items, signed confidences of the earlier ratings
    targets: list[set[int]]    # later liked item columns per user
    user_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class Split:
    train: Interactions
    val: HeldOut
    test: HeldOut


def split_users(ratings: pd.DataFrame, seed: int = 42, val_frac: float = 0.2,
                test_frac: float = 0.2, history_frac: float = 0.8,
                min_item_count: int = 2, always_train: set | None = None) -> Split:
    """``always_train``: users never held out (and not counted when sizing the held-out
    sets), so adding them leaves the validation and test users as they were."""
    rng = np.random.default_rng(seed)
    users = np.array(sorted(set(ratings["user"].unique()) - (always_train or set())),
                     dtype=object)
    rng.shuffle(users)
    n_val, n_test = int(len(users) * val_frac), int(len(users) * test_frac)
    val_users, test_users = set(users[:n_val]), set(users[n_val:n_val + n_test])
    held = ratings["user"].isin(val_users | test_users)
    train = Interactions.from_ratings(ratings[~held], min_item_count=min_item_count)
    return Split(train,
                 _held_out(ratings[ratings["user"].isin(val_users)], train, history_frac),
                 _held_out(ratings[ratings["user"].isin(test_users)], train, history_frac))


def _held_out(df: pd.DataFrame, train: Interactions, history_frac: float) -> HeldOut:
    inter = Interactions.from_ratings(df, item_ids=train.item_ids)
    rows, cols, vals, targets, ids = [], [], [], [], []
    for user, g in inter.df.sort_values(["timestamp", "item"], kind="stable").groupby("user", sort=True):
        cut = max(1, int(round(len(g) * history_frac)))
        hist, later = g.iloc[:cut], g.iloc[cut:]
        liked = set(later.loc[later["rating"] >= POSITIVE_AT, "iidx"].tolist())
        if not liked:
            continue
        n = len(targets)
        rows.extend([n] * len(hist))
        cols.extend(hist["iidx"].tolist())
        vals.extend(hist["weight"].tolist())
        targets.append(liked)
        ids.append(user)
    X = sp.csr_matrix((np.asarray(vals, np.float32), (rows, cols)),
                      shape=(len(targets), train.n_items))
    return HeldOut(X, targets, np.asarray(ids, dtype=object))
