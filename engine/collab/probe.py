"""The held-out probe: a fixed slice of MovieLens ratings no collab model trains on.

``probe_holdout`` picks ``PROBE_USERS`` MovieLens users (seeded, the same for every build
of the same ratings file) and, for each, hides the later fifth of their >= 4-star films.
The collab build drops exactly those (user, film) ratings from what it trains on (both
the model selection and the final model), and records ``probe_holdout`` in its metrics.
The retrain gate then asks each version's served ``recommend()`` for those users, with
the rest of their ratings as history, and scores NDCG@10 against the hidden films: a
held-out check of the served path, paired over the same users for both versions.

The cost is about 5 % of ml-latest-small's ratings (the hidden films of 300 users).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROBE_USERS = 300
PROBE_SEED = 42
PROBE_LIKED = 4.0


def probe_holdout(ratings: pd.DataFrame, users: int = PROBE_USERS, seed: int = PROBE_SEED
                  ) -> list[tuple[str, list[tuple[int, float]], set[int]]]:
    """(user, history [(movie, rating)], hidden movies) per probe user, in user order.

    ``ratings`` has the columns of ``interactions.load_ratings`` (user, item, rating,
    timestamp), MovieLens users only."""
    queries = []
    ordered = ratings.sort_values(["timestamp", "item"], kind="stable")
    for user, g in ordered.groupby("user", sort=True):
        liked = g["item"][g["rating"] >= PROBE_LIKED]
        if len(liked) < 5:
            continue
        hidden = set(liked.iloc[-max(1, len(liked) // 5):].tolist())
        history = [(int(m), float(r)) for m, r in zip(g["item"], g["rating"], strict=True)
                   if m not in hidden]
        queries.append((str(user), history, {int(m) for m in hidden}))
    pick = np.random.default_rng(seed).choice(len(queries), min(users, len(queries)),
                                              replace=False)
    return [queries[i] for i in sorted(pick)]


def without_probe(ratings: pd.DataFrame, probe: list[tuple[str, list, set[int]]]) -> pd.DataFrame:
    """``ratings`` less the probe's hidden (user, film) pairs."""
    hidden = pd.DataFrame([(u, m) for u, _, films in probe for m in films],
                          columns=["user", "item"])
    if hidden.empty:
        return ratings
    key = pd.MultiIndex.from_frame(ratings[["user", "item"]].astype({"user": str}))
    drop = key.isin(pd.MultiIndex.from_frame(hidden))
    return ratings[~drop]


def describe(probe: list, dropped: int) -> dict:
    """What the build records in its metrics (the gate compares it across versions)."""
    return {"users": len(probe), "hidden_ratings": int(dropped), "seed": PROBE_SEED,
            "liked_at": PROBE_LIKED}
