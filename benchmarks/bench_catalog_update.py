"""`moviebot catalog update` at 1,000 new films: films added per minute, and the time from
the update's start to a running engine (EngineHolder, as the bots use) serving them.

The fake TMDB (tests/fakes/tmdb_api.py, on 127.0.0.1) serves the real films released
since 2019 that the dataset has (about 200), plus SYNTHETIC variants of them (new ids,
"(synthetic variant N)" in the title, the real row's other fields) up to --count: the
output says how many of each. The update discovers them by release date (--since 2019,
20 a page) and fetches every film's details, as against TMDB.

Two pacings per run:
  paced     the client's default 20 requests/s (TMDB allows about 50): what a real update
            spends, mostly waiting on the rate limit
  unpaced   no pacing: the update's own cost (journal, merge, encoder inference, TF-IDF
            fold-in, collab and crossmedia vectors, Annoy rebuilds, sha256 of the version)

Each run starts from a private copy (hard links) of the served version of --artifacts.

    python benchmarks/bench_catalog_update.py --artifacts DIR [--count 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import artifacts  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.reload import EngineHolder  # noqa: E402
from engine.tmdb import TMDBCatalogClient  # noqa: E402
from jobs.catalog_update import UpdateOptions, update_catalog  # noqa: E402
from tests.fakes.tmdb_api import FakeTMDB, recent_movies, synthetic_variants  # noqa: E402


def private_root(source: Path, into: Path) -> Path:
    version = artifacts.current_version(source)
    dst = into / version.name
    for path in version.rglob("*"):
        if path.is_file():
            (dst / path.relative_to(version)).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dst / path.relative_to(version))
    artifacts.publish(into, dst)
    return into


async def one_run(source: Path, movies: dict, rps: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        root = private_root(source, Path(tmp))
        holder = EngineHolder(root, check_every=3600)
        served_at: list[float] = []
        stop = threading.Event()

        def watch(old: str) -> None:   # a bot's watcher, polling every 50 ms
            while not stop.is_set():
                if holder.reload() or holder.version != old:
                    served_at.append(time.perf_counter())
                    return
                time.sleep(0.05)

        fake = await FakeTMDB(movies).start()
        client = TMDBCatalogClient(fake.api_key, base_url=fake.base_url, requests_per_second=rps)
        pages = -(-len(movies) // 20)
        watcher = threading.Thread(target=watch, args=(holder.version,), daemon=True)
        watcher.start()
        started = time.perf_counter()
        try:
            result = await update_catalog(
                root, fake.api_key, fake.base_url,
                UpdateOptions(since="2019-01-01", pages=pages, lists=(), progress=False),
                client=client)
            await asyncio.to_thread(watcher.join, 600)
        finally:
            stop.set()
            await client.close()
            await fake.stop()
        if result.status != "published" or not served_at:
            raise SystemExit(f"update did not publish and serve: {result.to_dict()}")
        added = result.details["added"]
        total = served_at[0] - started
        seconds = result.details["seconds"]
        return {"added": added, "served_s": total, "per_minute": added / total * 60,
                "fetch_s": seconds["fetch"], "content_s": seconds.get("content", 0.0),
                "collab_s": seconds.get("collab", 0.0),
                "crossmedia_s": seconds.get("crossmedia", 0.0),
                "version_s": seconds["version"], "requests": len(fake.requests)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", default="", help="a built artifacts root (default MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pacing", choices=("both", "paced", "unpaced"), default="both")
    args = parser.parse_args()
    settings = Settings.from_env(artifacts=args.artifacts or None)
    real = recent_movies(settings.data_dir, "2019-01-01", limit=args.count)
    synthetic = synthetic_variants(real, max(0, args.count - len(real)))
    movies = {**real, **synthetic}
    print(f"fake TMDB: {len(movies)} films released since 2019: {len(real)} real rows, "
          f"{len(synthetic)} SYNTHETIC variants of them (labelled in their titles)")
    print(f"served version: {artifacts.current_version(settings.artifacts).name}, "
          f"{os.cpu_count()} CPUs")
    pacings = {"paced": 20.0, "unpaced": 0.0}
    if args.pacing != "both":
        pacings = {args.pacing: pacings[args.pacing]}
    header = (f"{'pacing':8} {'run':>3} {'added':>6} {'films/min':>10} {'start->served s':>16} "
              f"{'fetch':>7} {'content':>8} {'collab':>7} {'xmedia':>7} {'version':>8}")
    print(header)
    summary = {}
    for name, rps in pacings.items():
        runs = []
        for i in range(args.repeats):
            row = asyncio.run(one_run(Path(settings.artifacts), movies, rps))
            runs.append(row)
            print(f"{name:8} {i + 1:>3} {row['added']:>6} {row['per_minute']:>10.0f} "
                  f"{row['served_s']:>16.1f} {row['fetch_s']:>7.1f} {row['content_s']:>8.1f} "
                  f"{row['collab_s']:>7.1f} {row['crossmedia_s']:>7.1f} {row['version_s']:>8.1f}",
                  flush=True)
        served = [r["served_s"] for r in runs]
        summary[name] = (statistics.median(r["per_minute"] for r in runs),
                         statistics.median(served), percentile(served, 0.9), max(served))
    print()
    print(f"{'pacing':8} {'films/min (median)':>19} {'start->served p50 s':>20} "
          f"{'p90 s':>7} {'max s':>7}")
    for name, (per_minute, p50, p90, worst) in summary.items():
        print(f"{name:8} {per_minute:>19.0f} {p50:>20.1f} {p90:>7.1f} {worst:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
