"""Title-autocomplete latency (Discord slash commands): p50/p90/p99 per keystroke against
the 3 ms target.

    python benchmarks/bench_autocomplete.py [--artifacts DIR] [--n 400]

Each query is what a Discord client sends while someone types a real title: every prefix
of it, keystroke by keystroke ("t", "to", "toy", "toy ", ...), in lower case, sometimes
with a typo in the last word. Timed: `Catalog.complete(text, 25)` plus building the 25
`app_commands.Choice` objects, i.e. all the work our autocomplete callback does. The
completion keeps an LRU of recent prefixes; "uncached" clears it before every lookup.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time

import numpy as np

TARGET_P99_MS = 3.0


def keystrokes(titles: list[str], n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for title in rng.sample(titles, min(n, len(titles))):
        typed = title.lower()
        if rng.random() < 0.2 and len(typed) > 5:        # a typo, then typing on
            i = rng.randrange(2, len(typed) - 1)
            typed = typed[:i] + typed[i + 1:]
        out += [typed[:i] for i in range(1, min(len(typed), 30) + 1)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", help="built artifacts (default: build the catalog now)")
    parser.add_argument("--data-dir")
    parser.add_argument("--n", type=int, default=400, help="titles typed")
    args = parser.parse_args()

    from discord import app_commands

    from engine.catalog import Catalog
    from engine.config import Settings

    settings = Settings.from_env(data_dir=args.data_dir, artifacts=args.artifacts)
    if args.artifacts:
        from engine import Engine

        catalog = Engine.load(settings.artifacts).catalog
    else:
        from engine.datasets.catalog_build import build_catalog

        catalog = Catalog(build_catalog(settings.data_dir))
    started = time.perf_counter()
    catalog.complete("", 25)
    print(f"completion index built in {(time.perf_counter() - started) * 1000:.0f} ms "
          f"(once per catalog version, when it loads)")
    queries = keystrokes(catalog.df["title"].tolist(), args.n)

    def callback(text: str) -> list:
        return [app_commands.Choice(name=c.label[:100], value=c.label[:100])
                for c in catalog.complete(text, 25)]

    gc.freeze()      # as the bot does once it is up (engine/heap.py)
    print(f"{len(queries):,} keystrokes over {args.n} titles, {len(catalog):,} films; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    # "best of 3": each keystroke timed three times, the fastest kept: what the code costs
    # without the scheduler's noise on a shared box (the single-shot rows keep it)
    for label, clear, repeat in (("uncached", True, 1), ("uncached, best of 3", True, 3),
                                 ("LRU warm", False, 1)):
        times = []
        for q in queries:
            best = float("inf")
            for _ in range(repeat):
                if clear:
                    catalog.titles._complete.cache_clear()
                    catalog.titles._search.cache_clear()
                start = time.perf_counter()
                callback(q)
                best = min(best, (time.perf_counter() - start) * 1000)
            times.append(best)
        p50, p90, p99 = np.percentile(times, [50, 90, 99])
        print(f"  {label:<20} mean {statistics.fmean(times):.3f}  p50 {p50:.3f}  p90 {p90:.3f}  "
              f"p99 {p99:.3f}  max {max(times):.3f} ms   p99/target {p99 / TARGET_P99_MS:.2f} "
              f"{'OK' if p99 <= TARGET_P99_MS else 'OVER'}")


if __name__ == "__main__":
    main()
