"""`Engine.song()` latency on the built artifacts: p50/p95/p99 against the 2 ms p99 target, and
the start-up of a process that serves /song (target 1 s).

    python benchmarks/bench_song.py [--artifacts DIR] [--n 3000] [--k 10]

Queries come from the real song table, the way people type them:
  exact   "title - artist" as stored
  typo    one character dropped from the title, artist lower-cased
  title   the title alone (the popular version, or an ambiguity question)
  id      a Spotify track URL
  vibe    "vibe energy=... valence=..." with random values, or a mood word ("vibe sad")
  artist  an artist alone ("Queen": the artist's typical vibe)
Each kind is timed separately and all together; the target applies to the mix.
Errors a user would see (ambiguous/unknown) are timed too: answering them is part of song().

Two clocks: wall time, and the thread's CPU time (CLOCK_THREAD_CPUTIME_ID). On a shared,
loaded machine the wall-clock tail is mostly time spent waiting for a core; the CPU-time
tail is the work song() itself does. Both are printed with the load average, and the
verdict says which clock met the target.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

TARGET_P99_MS = 2.0
TARGET_START_S = 1.0


def startup_seconds(artifacts: str, runs: int = 3) -> float:
    """Wall time of a fresh interpreter that loads the engine and answers one /song, the
    work a bot process does before its first answer (median of ``runs``)."""
    import subprocess
    import sys

    code = ("from engine import Engine; import sys; "
            "Engine.load(sys.argv[1]).song('Bohemian Rhapsody - Queen', k=10)")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, artifacts], check=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_queries(songs, n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = [[n, a, t] for n, a, t in zip(songs["name"], songs["artist"], songs["track_id"],
                                         strict=True) if n and a and t]
    out = []
    for _ in range(n):
        name, artist, track_id = rng.choice(rows)
        kind = rng.choice(["exact", "exact", "typo", "title", "id", "vibe", "artist"])
        if kind == "exact":
            q = f"{name} - {artist}"
        elif kind == "typo":
            i = rng.randrange(len(name)) if len(name) > 3 else 0
            q = f"{name[:i] + name[i + 1:]} - {artist.lower()}"
        elif kind == "title":
            q = name
        elif kind == "id":
            q = f"https://open.spotify.com/track/{track_id}"
        elif kind == "artist":
            q = artist.split(",")[0]
        elif rng.random() < 0.5:
            q = f"vibe {rng.choice(['sad', 'chill', 'hype', 'happy', 'romantic', 'dark', 'epic'])}"
        else:
            q = f"vibe energy={rng.random():.2f} valence={rng.random():.2f}"
        out.append((kind, q))
    return out


def main() -> int:
    from engine import Engine
    from engine.config import Settings
    from engine.errors import MovieBotError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", help="artifacts dir (default: MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("-k", "--k", type=int, default=10)
    args = parser.parse_args()

    artifacts = args.artifacts or Settings.from_env().artifacts
    startup = startup_seconds(artifacts)
    print(f"start-up of a process answering one /song (python -c, median of 3): "
          f"{startup:.2f} s / target {TARGET_START_S} s ({'PASS' if startup <= TARGET_START_S else 'FAIL'})")
    engine = Engine.load(artifacts)
    t0 = time.perf_counter()
    vibe = engine.recommender("crossmedia")
    print(f"load crossmedia: {1000 * (time.perf_counter() - t0):.0f} ms "
          f"({len(vibe.names)} songs, {len(vibe.movie_ids)} movies, dim {vibe.space.dim})")
    # The served path scores all movies exactly up to EXACT_MAX; Annoy is the path beyond.
    # Its recall@k against exact inner products, for 500 real songs, per search_k:
    from engine.crossmedia.serving import EXACT_MAX, SEARCH_K

    print(f"served path: {'exact numpy' if len(vibe.movie_ids) <= EXACT_MAX else 'Annoy'} "
          f"(exact up to {EXACT_MAX} movies)")
    movie_vecs = np.asarray(vibe.movies.vectors)
    rows = np.random.default_rng(0).choice(len(vibe.song_vecs), 500, replace=False)
    for search_k in sorted({3_000, 10_000, SEARCH_K}):
        vibe.movies.search_k = search_k
        hits, cpu_ms = 0, []
        for row in rows:
            vec = vibe.song_vecs[row]
            exact = set(np.argsort(-(movie_vecs @ vec))[:args.k].tolist())
            start = time.thread_time()
            got = vibe.movies.top(vec, args.k, exact=False)[0].tolist()
            cpu_ms.append(1000 * (time.thread_time() - start))
            hits += len(exact & set(got))
        print(f"Annoy search_k={search_k}: recall@{args.k} {hits / (500 * args.k):.3f}, "
              f"cpu p50 {np.percentile(cpu_ms, 50):.3f} ms, p99 {np.percentile(cpu_ms, 99):.3f} ms")
    vibe.movies.search_k = SEARCH_K
    queries = make_queries(vibe.songs, args.n)
    for _, q in queries[:200]:  # warm caches (catalog Movie objects, Annoy pages)
        try:
            engine.song(q, k=args.k)
        except MovieBotError:
            pass
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    errors = 0
    for kind, q in queries:
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            engine.song(q, k=args.k)
        except MovieBotError:
            errors += 1
        cpu.setdefault(kind, []).append(1000 * (time.thread_time() - start_cpu))
        wall.setdefault(kind, []).append(1000 * (time.perf_counter() - start))
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    print(f"{'kind':<8}{'n':>6}{'wall p50':>10}{'p95':>8}{'p99':>8}{'cpu p50':>10}{'p95':>8}"
          f"{'p99':>8}   (ms)")
    for kind in sorted(wall) + ["ALL"]:
        w = [t for ts in wall.values() for t in ts] if kind == "ALL" else wall[kind]
        c = [t for ts in cpu.values() for t in ts] if kind == "ALL" else cpu[kind]
        wp, cp = np.percentile(w, [50, 95, 99]), np.percentile(c, [50, 95, 99])
        print(f"{kind:<8}{len(w):>6}{wp[0]:>10.3f}{wp[1]:>8.3f}{wp[2]:>8.3f}"
              f"{cp[0]:>10.3f}{cp[1]:>8.3f}{cp[2]:>8.3f}")
    print(f"user-facing errors (ambiguous/unknown): {errors}/{len(queries)}")
    ok = True
    for name, times in (("wall", wall), ("cpu", cpu)):
        p99 = float(np.percentile([t for ts in times.values() for t in ts], 99))
        ok_clock = p99 <= TARGET_P99_MS
        ok = ok and (ok_clock or name == "wall")
        print(f"song() {name} p99 {p99:.3f} ms / target {TARGET_P99_MS} ms = "
              f"{p99 / TARGET_P99_MS:.2f} ({'PASS' if ok_clock else 'FAIL'})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
