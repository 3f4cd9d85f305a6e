"""Served /recommend on warm films, two versions side by side: the retrain gate's held-out
probe (jobs/retrain.py: 300 MovieLens users, the later fifth of their >= 4-star films hidden
from every build), NDCG@10 of each version's served recommend(), paired user by user.

    python benchmarks/probe_compare.py --old /work/builds/main/current --new /work/builds/x/current
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from jobs.retrain import probe_queries, probe_scores  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="a built version directory")
    parser.add_argument("--new", type=Path, required=True, help="a built version directory")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("MOVIEBOT_DATA_DIR", ROOT / "data" / "raw"))
    queries = probe_queries(data_dir)
    old, new = (np.array(probe_scores(v.resolve(), queries)) for v in (args.old, args.new))
    d = new - old

    def se(x):
        return x.std(ddof=1) / np.sqrt(len(x))

    print(f"| version | probe NDCG@10 ± SE ({len(old)} users) | paired vs old |\n|---|---|---|")
    print(f"| old {args.old.resolve().name} | {old.mean():.4f} ± {se(old):.4f} | |")
    print(f"| new {args.new.resolve().name} | {new.mean():.4f} ± {se(new):.4f} "
          f"| {d.mean():+.4f} ± {se(d):.4f} |")
    print(f"users whose score changed: {int((d != 0).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
