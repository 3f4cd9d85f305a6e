"""Party latency: Engine.group_recommend for groups of 2-5 real MovieLens users.

  python benchmarks/bench_party.py --artifacts DIR [--requests 200]

Each member's history is 3-60 ratings drawn from one MovieLens user; the group asks for 5
films. Prints wall-clock and CPU-time percentiles per group size (on a machine shared with
other work the CPU time is the steadier of the two); nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from engine import Engine
    from engine.collab.interactions import ML_SMALL, load_ratings
    from engine.config import Settings
    from engine.queries import GroupMember, GroupQuery

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", required=True, help="a built artifacts directory")
    parser.add_argument("--requests", type=int, default=200, help="groups per size")
    args = parser.parse_args()

    engine = Engine.load(args.artifacts)
    ratings = load_ratings(Settings.from_env().data_dir / ML_SMALL)
    users = [g for _, g in ratings.groupby("user")]
    rng = np.random.default_rng(0)

    def member(n: int) -> GroupMember:
        g = users[rng.integers(len(users))]
        rows = g.sample(int(min(len(g), rng.integers(3, 60))),
                        random_state=int(rng.integers(1 << 30)))
        return GroupMember.of(f"M{n}", zip(rows["item"].tolist(), rows["rating"].tolist(),
                                           strict=True))

    for _ in range(20):   # warm the catalog's Movie cache, the page cache, the content rows
        engine.group_recommend(GroupQuery((member(1), member(2))), k=5)
    print(f"version {engine.version}, collab {engine.recommender('collab').meta['default']}, "
          f"content {'yes' if engine.has('content') else 'no'}")
    print("members | wall p50 / p90 / p99 ms | CPU p50 / p99 ms")
    for size in (2, 3, 4, 5):
        queries = [GroupQuery(tuple(member(n) for n in range(size))) for _ in range(args.requests)]
        wall, cpu = [], []
        for q in queries:
            started, started_cpu = time.perf_counter(), time.process_time()
            engine.group_recommend(q, k=5)
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
        p50, p90, p99 = np.percentile(wall, [50, 90, 99])
        c50, c99 = np.percentile(cpu, [50, 99])
        print(f"{size} | {p50:.1f} / {p90:.1f} / {p99:.1f} | {c50:.1f} / {c99:.1f}")


if __name__ == "__main__":
    main()
