"""Title-search latency on the full catalog: p50/p99 per lookup against the 2 ms target.

    python benchmarks/bench_search.py [--artifacts DIR] [--n 5000]

Queries are drawn from the real titles and then damaged the way people type them:
lower-cased, a typo, the year appended, only a prefix, or nothing like any title.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

TARGET_P99_MS = 2.0


def make_queries(titles: list[tuple[str, int | None]], n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        title, year = rng.choice(titles)
        kind = rng.random()
        if kind < 0.3:
            q = title.lower()
        elif kind < 0.55 and len(title) > 4:  # one typo: drop, swap or double a letter
            i = rng.randrange(1, len(title) - 1)
            q = rng.choice([title[:i] + title[i + 1:], title[:i] + title[i + 1] + title[i] + title[i + 2:],
                            title[:i] + title[i] + title[i:]])
        elif kind < 0.7 and year:
            q = f"{title} {year}"
        elif kind < 0.85:
            q = " ".join(title.split()[:2])
        else:
            q = "".join(rng.choice("qwxzjkvy ") for _ in range(rng.randint(4, 20))).strip() or "qq"
        out.append(q)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", help="built artifacts (default: build the catalog now)")
    parser.add_argument("--data-dir")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()

    from engine.catalog import Catalog
    from engine.config import Settings
    from engine.errors import MovieBotError

    settings = Settings.from_env(data_dir=args.data_dir, artifacts=args.artifacts)
    if args.artifacts:
        from engine import Engine

        catalog = Engine.load(settings.artifacts).catalog
    else:
        from engine.datasets.catalog_build import build_catalog

        catalog = Catalog(build_catalog(settings.data_dir))
    titles = list(zip(catalog.df["title"], catalog.df["year"].astype("float").tolist(), strict=True))
    titles = [(t, int(y) if y == y else None) for t, y in titles]
    queries = make_queries(titles, args.n)
    def timed(fn, clear: bool) -> list[float]:
        out = []
        for q in queries:
            if clear:  # the search keeps an LRU of recent queries; measure without it
                catalog.titles._search.cache_clear()
            start = time.perf_counter()
            try:
                fn(q)
            except MovieBotError:
                pass
            out.append((time.perf_counter() - start) * 1000)
        return out

    print(f"title search over {len(catalog.titles):,} keys, {len(queries):,} lookups "
          "(exact, lower-case, typo, with year, prefix, gibberish)")
    for label, fn, clear in [("search, uncached", catalog.search, True),
                             ("resolve, uncached", catalog.resolve, True),
                             ("resolve, LRU warm", catalog.resolve, False)]:
        times = timed(fn, clear)
        p50, p90, p99 = np.percentile(times, [50, 90, 99])
        print(f"  {label:<18} mean {statistics.fmean(times):.3f}  p50 {p50:.3f}  p90 {p90:.3f}  "
              f"p99 {p99:.3f} ms   p99/target {p99 / TARGET_P99_MS:.2f} "
              f"{'OK' if p99 <= TARGET_P99_MS else 'OVER'}")


if __name__ == "__main__":
    main()
