"""Feedback write throughput into PostgreSQL (target: >= 5,000 events/s in bulk).

The event stream is real: every MovieLens ml-latest-small rating becomes a "rating"
feedback event of a store user (610 users, 100,836 events). Three ways of writing it:

  unbatched   one ``record_feedback`` (one transaction) per event, sequentially: baseline
  bulk        ``record_feedback_many`` in chunks of --batch rows (the spool replay path)
  concurrent  --concurrency tasks each awaiting ``record_feedback`` for one event at a
              time, as the bots write (one transaction each); prints per-call latency too

(Until issue 12 the third row went through ``FeedbackBatcher``, which grouped concurrent
calls into one INSERT; no bot used it, so it was deleted.)

"sustained" is the slowest whole second of a phase. Runs in a throw-away schema.

    python benchmarks/bench_store.py [--url postgresql+asyncpg://...] [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from bot.store import FeedbackEvent, Store  # noqa: E402
from bot.store.testing import drop_schema, postgres_url  # noqa: E402
from engine.config import Settings  # noqa: E402

TARGET = 5000.0


def load_events(data_dir: Path, users: dict[int, int], tag: str) -> list[FeedbackEvent]:
    ratings = pd.read_csv(data_dir / "movielens" / "ml-latest-small" / "ratings.csv")
    return [FeedbackEvent(users[u], int(m), "rating", float(r), "bench", None,
                          f"bench:{tag}:{u}:{m}")
            for u, m, r in zip(ratings.userId, ratings.movieId, ratings.rating, strict=True)]


def sustained(done_at: list[float], start: float) -> float:
    """Events in the slowest whole second after ``start`` (inf when under a second)."""
    if not done_at or done_at[-1] - start < 1.0:
        return float("inf")
    buckets: dict[int, int] = {}
    for t in done_at:
        buckets[int(t - start)] = buckets.get(int(t - start), 0) + 1
    full = [buckets.get(s, 0) for s in range(int(done_at[-1] - start))]
    return float(min(full)) if full else float("inf")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("MOVIEBOT_BENCH_POSTGRES_URL")
                        or postgres_url())
    parser.add_argument("--events", type=int, default=0, help="cap per phase (0 = all)")
    parser.add_argument("--unbatched", type=int, default=3000, help="events in the baseline")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = Settings.from_env().data_dir
    schema = f"bench_{secrets.token_hex(4)}"
    store = await Store.open(args.url, schema=schema)
    report: dict = {"url": args.url.split("@")[-1], "target_events_per_s": TARGET}
    try:
        ratings_users = pd.read_csv(data_dir / "movielens" / "ml-latest-small" / "ratings.csv",
                                    usecols=["userId"]).userId.unique()
        users = {int(u): await store.user_id("movielens", str(u)) for u in ratings_users}

        # 1. baseline: one transaction per event
        events = load_events(data_dir, users, "single")[:args.unbatched]
        start = time.perf_counter()
        for e in events:
            await store.record_feedback(e)
        secs = time.perf_counter() - start
        report["unbatched"] = {"events": len(events), "seconds": round(secs, 2),
                               "events_per_s": round(len(events) / secs)}

        # 2. bulk: record_feedback_many in chunks
        events = load_events(data_dir, users, "bulk")
        events = events[:args.events] if args.events else events
        done_at: list[float] = []
        start = time.perf_counter()
        for i in range(0, len(events), args.batch):
            chunk = events[i:i + args.batch]
            stored = await store.record_feedback_many(chunk)
            assert stored == len(chunk), "benchmark keys must be new"
            done_at += [time.perf_counter()] * len(chunk)
        secs = time.perf_counter() - start
        report["bulk"] = {"events": len(events), "batch": args.batch, "seconds": round(secs, 2),
                          "events_per_s": round(len(events) / secs),
                          "sustained_events_per_s": sustained(done_at, start)}

        # 3. concurrent single-event callers, one transaction each
        events = load_events(data_dir, users, "concurrent")
        events = events[:args.events] if args.events else events
        latencies: list[float] = []
        done_at = []
        queue = iter(events)

        async def caller() -> None:
            for e in queue:
                t0 = time.perf_counter()
                assert await store.record_feedback(e)
                t1 = time.perf_counter()
                latencies.append(t1 - t0)
                done_at.append(t1)

        start = time.perf_counter()
        await asyncio.gather(*[caller() for _ in range(args.concurrency)])
        secs = time.perf_counter() - start
        q = statistics.quantiles(latencies, n=100)
        report["concurrent"] = {"events": len(events), "concurrency": args.concurrency,
                             "seconds": round(secs, 2),
                             "events_per_s": round(len(events) / secs),
                             "sustained_events_per_s": sustained(done_at, start),
                             "latency_ms": {"p50": round(q[49] * 1000, 2),
                                            "p95": round(q[94] * 1000, 2),
                                            "p99": round(q[98] * 1000, 2)}}
        total = (await store.stats())["events"]
        report["rows_in_db"] = total
    finally:
        await store.close()
        await drop_schema(args.url, schema)

    base = report["unbatched"]["events_per_s"]
    for phase in ("bulk", "concurrent"):
        r = report[phase]
        r["ratio_to_target"] = round(min(r["events_per_s"], r["sustained_events_per_s"])
                                     / TARGET, 2)
        r["speedup_vs_unbatched"] = round(r["events_per_s"] / base, 1)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"PostgreSQL {report['url']}; target {TARGET:.0f} events/s")
        print(f"  unbatched : {base:>7} events/s ({report['unbatched']['events']} events)")
        for phase in ("bulk", "concurrent"):
            r = report[phase]
            extra = (f", latency p50/p95/p99 {r['latency_ms']['p50']}/{r['latency_ms']['p95']}/"
                     f"{r['latency_ms']['p99']} ms" if "latency_ms" in r else "")
            print(f"  {phase:<10}: {r['events_per_s']:>7} events/s, slowest second "
                  f"{r['sustained_events_per_s']:.0f}, {r['ratio_to_target']}x target, "
                  f"{r['speedup_vs_unbatched']}x unbatched ({r['events']} events{extra})")
    ok = report["bulk"]["ratio_to_target"] >= 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
