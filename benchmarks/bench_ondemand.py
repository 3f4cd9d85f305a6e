"""On-demand /similar benchmark: folding a film past the catalog into the content space.

    python benchmarks/bench_ondemand.py [--artifacts DIR] [--films 200]

Films: real TMDB records (TMDB_movie_dataset_v11.csv, via the fake TMDB's loader) released
after the catalog ends, turned into catalog rows (``engine.tmdb.catalog_row``). Times,
per film: the fold-in vector (TF-IDF + metadata from the saved transforms,
``engine/content/foldin.py``) and the whole ``recommend`` (vector, scores over every
film, served-list rules, reasons), on the published version. TMDB itself is not timed
(network); the bot allows it ``2 x tmdb_timeout``. Prints p50/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", default=None)
    parser.add_argument("--films", type=int, default=200)
    args = parser.parse_args()

    from engine import Engine
    from engine.config import Settings
    from engine.queries import MovieQuery
    from engine.tmdb import catalog_row, movie_from_row
    from tests.fakes.tmdb_api import movies_from_dataset

    settings = Settings.from_env(**({"artifacts": args.artifacts} if args.artifacts else {}))
    engine = Engine.load(settings.artifacts)
    content = engine.recommender("content")
    fold_in = content.fold_in()
    if fold_in is None:
        print("this version has no fold-in files: rebuild content (moviebot build --only content)")
        return 1
    last = engine.catalog.last_year or 0
    rows = [catalog_row(m) for m in movies_from_dataset(settings.data_dir, limit=2600).values()]
    rows = [r for r in rows if (r["year"] or 0) > last][: args.films]
    vector_ms, similar_ms = [], []
    for row in rows:
        started = time.perf_counter()
        fold_in.vector(row)
        vector_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.recommend("content", MovieQuery(movie_from_row(row), row=row), k=6)
        similar_ms.append((time.perf_counter() - started) * 1000)
    print(f"version {engine.version}: {len(rows)} films released after {last}, "
          f"catalog {len(engine.catalog):,} films")
    print(f"{'step':<34}{'p50 ms':>9}{'p99 ms':>9}")
    for name, ms in (("fold-in vector", vector_ms), ("recommend (fold-in + list of 6)", similar_ms)):
        print(f"{name:<34}{np.percentile(ms, 50):>9.2f}{np.percentile(ms, 99):>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
