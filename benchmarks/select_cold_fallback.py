"""Choose the collab fallback's knobs for films nobody rated, on validation users only.

A film nobody rated gets its collab vector from its ``k`` nearest rated films by fused
content vector, weighted by cosine ** ``power`` (engine/collab/cold_items.py). This prints,
for a grid of (k, power), /recommend NDCG@10 among the cold films of the content stage's
cold-item split (engine/content/recommend_cold.py), scored on the content split's
VALIDATION users (the collab model refitted on its training users without the cold films),
with standard errors and paired differences against the current setting.

Rule, fixed before running: keep the current setting unless another one's paired gain
over it is at least one paired standard error; then take the best mean. Test users are
never read here (`moviebot eval content` scores the chosen setting on them).

    python benchmarks/select_cold_fallback.py --artifacts /work/builds/main/<version>
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.collab.cold_items import NEIGHBOURS, POWER  # noqa: E402
from engine.content.built import load_built  # noqa: E402
from engine.content.evaluate import split_users3  # noqa: E402
from engine.content.fusion import fuse  # noqa: E402
from engine.content.hybrid_eval import cold_movies  # noqa: E402
from engine.content.recommend_cold import TFIDF, ColdSetup, _tfidf_weights, fused_weights  # noqa: E402

GRID_K = (5, 10, 20, 40)
GRID_POWER = (0.0, 1.0, 3.0)


def se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", type=Path, required=True, help="a built version directory")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("MOVIEBOT_DATA_DIR", ROOT / "data" / "raw"))
    built = load_built(args.artifacts, data_dir)
    seed = built.config["seed"]
    train_users, val_users, _ = split_users3(built.ratings, seed)
    cold_ids = cold_movies(built.movie_ids, seed)
    setup = ColdSetup.fit(args.artifacts, built.catalog, built.ratings, train_users, val_users,
                          cold_ids)
    if setup is None:
        print("no validation user liked a cold film, or the version has no collab model")
        return 1
    fused = fuse(built.blocks, built.choice.weights)
    items = setup.inter.item_ids
    rows = {(k, p): setup.ndcg(fused_weights(built.movie_ids, fused, items, cold_ids, k=k, power=p))
            for k in GRID_K for p in GRID_POWER}
    current = rows[(NEIGHBOURS, POWER)]
    tfidf = setup.ndcg(_tfidf_weights(built.catalog, items, cold_ids))
    print(f"/recommend NDCG@10 among {len(cold_ids)} cold films, {len(current)} validation users")
    print("| k | power | NDCG@10 ± SE | paired vs current |\n|---|---|---|---|")
    for (k, p), v in rows.items():
        d = v - current
        mark = " (current)" if (k, p) == (NEIGHBOURS, POWER) else ""
        print(f"| {k} | {p:g}{mark} | {v.mean():.4f} ± {se(v):.4f} | {d.mean():+.4f} ± {se(d):.4f} |")
    d = tfidf - current
    print(f"| {TFIDF} | | {tfidf.mean():.4f} ± {se(tfidf):.4f} | {d.mean():+.4f} ± {se(d):.4f} |")
    better = {key: v for key, v in rows.items()
              if (v - current).mean() >= max(se(v - current), 1e-12)}
    choice = max(better, key=lambda key: better[key].mean()) if better else (NEIGHBOURS, POWER)
    print(f"chosen: k={choice[0]}, power={choice[1]:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
