"""/similar before and after a change, in one process, queries interleaved: on a machine
that other work loads, two separate runs are not comparable, but the ratio of two paths
timed on the same queries, alternating which goes first, is.

    git archive <commit> engine | tar -x -C /tmp/before && mv /tmp/before/engine /tmp/before/engine_before
    python benchmarks/bench_similar_ab.py --artifacts DIR --before /tmp/before [--queries 2000] [--check]

``--before`` holds the older commit's ``engine`` package renamed ``engine_before`` (its
content modules import each other relatively, so both load side by side). ``--check``
first compares the two served lists and scores on every film of the catalog.
Prints wall and CPU (thread) time p50/p99 per path and the after/before ratios.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--before", required=True, help="folder holding engine_before/")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--check", action="store_true", help="compare the lists on every film first")
    args = parser.parse_args()
    sys.path.insert(0, args.before)
    from engine_before.content import hybrid as old_hybrid
    from engine_before.content.serving import ContentIndex as OldIndex

    from engine import Engine
    from engine.content import hybrid
    from engine.queries import MovieQuery

    engine = Engine.load(args.artifacts)
    after = engine.recommender("content")
    before = OldIndex.load(engine.version_dir / "content", engine.catalog)
    if args.check:
        differ, worst = 0, 0.0
        for row in range(len(after.movie_ids)):
            so = before.scorer.scores(np.array([row]))[0]
            sn = after.scorer.scores(np.array([row]))[0]
            finite = np.isfinite(so)
            if not np.array_equal(finite, np.isfinite(sn)):
                differ += 1
                continue
            worst = max(worst, float(np.abs(so[finite] - sn[finite]).max()))
            differ += (old_hybrid.served_list(row, so, before.scorer.facets, 10)
                       != hybrid.served_list(row, sn, after.scorer.facets, 10))
        print(f"every film ({len(after.movie_ids)}): {differ} served lists differ, "
              f"largest score difference {worst:.3g}")
    movies = engine.catalog.movies(engine.catalog.ids)
    picks = np.random.default_rng(0).choice(len(movies), size=args.queries)
    for i in picks[:200]:   # warm caches for both
        before.recommend(MovieQuery(movies[i]), k=10)
        after.recommend(MovieQuery(movies[i]), k=10)
    wall: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    for j, i in enumerate(picks):
        order = [("before", before), ("after", after)]
        for name, index in order if j % 2 == 0 else order[::-1]:
            w0, c0 = time.perf_counter(), time.thread_time()
            index.recommend(MovieQuery(movies[i]), k=10)
            wall[name].append((time.perf_counter() - w0) * 1e3)
            cpu[name].append((time.thread_time() - c0) * 1e3)
    for name in wall:
        print(f"{name:>6}: wall p50 {np.percentile(wall[name], 50):.3f} ms  p99 "
              f"{np.percentile(wall[name], 99):.3f} ms | CPU p50 {np.percentile(cpu[name], 50):.3f} ms  "
              f"p99 {np.percentile(cpu[name], 99):.3f} ms")
    for q in (50, 99):
        print(f"after / before p{q}: wall {np.percentile(wall['after'], q) / np.percentile(wall['before'], q):.3f}"
              f"  CPU {np.percentile(cpu['after'], q) / np.percentile(cpu['before'], q):.3f}")


if __name__ == "__main__":
    main()
