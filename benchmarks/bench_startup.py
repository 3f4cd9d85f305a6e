"""Cold start-up of the processes that serve /song: percentiles of wall time, CPU time and
peak memory over N fresh interpreters (target: `moviebot song` answers in <= 1 s).

    python benchmarks/bench_startup.py [--artifacts DIR] [--n 10] [--query "Hallelujah - Jeff Buckley"]

Three commands, each started N times in turn:
  song    `moviebot song "<query>" -k 10`: the CLI, what a person waits for
  engine  a process that loads the engine and answers one /song (a /song-only worker)
  serve   what `moviebot serve` does before its first answer: every component loaded
          (engine.reload.load_warm, title index included), then one /song

Wall time on a shared machine includes waiting for a core; user+sys CPU is the work the
process did. Peak RSS is the child's own maximum (os.wait4), not the benchmark's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_START_S = 1.0

ENGINE = ("import sys; from engine import Engine; "
          "Engine.load(sys.argv[1]).song(sys.argv[2], k=10)")
SERVE = ("import sys; from pathlib import Path; from engine.artifacts import current_version; "
         "from engine.reload import load_warm; "
         "load_warm(current_version(Path(sys.argv[1]))).song(sys.argv[2], k=10)")


def commands(artifacts: str, query: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "song": [py, "-m", "bot.cli", "song", query, "-k", "10", "--artifacts", artifacts],
        "engine": [py, "-c", ENGINE, artifacts, query],
        "serve": [py, "-c", SERVE, artifacts, query],
    }


def run_once(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, user+sys CPU s, peak RSS MB) of one fresh process."""
    start = time.perf_counter()
    # cwd outside any checkout: `python -m` puts the cwd first on sys.path, so the code
    # measured is the one on PYTHONPATH (or installed), e.g. main's against a branch's
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    from engine.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", help="artifacts dir (default: MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--n", type=int, default=10, help="cold starts per command")
    parser.add_argument("--query", default="Hallelujah - Jeff Buckley")
    parser.add_argument("--only", choices=["song", "engine", "serve"], action="append")
    args = parser.parse_args()
    artifacts = str(Path(args.artifacts or Settings.from_env().artifacts).resolve())
    cmds = commands(artifacts, args.query)
    chosen = args.only or list(cmds)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in chosen}
    run_once(cmds[chosen[0]])           # the first start also pays for a cold page cache
    for _ in range(args.n):
        for name in chosen:              # interleaved, so load changes hit every command alike
            samples[name].append(run_once(cmds[name]))
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} cores; {args.n} cold starts each; query {args.query!r}")
    print(f"{'command':<8}{'wall p50':>10}{'p90':>7}{'max':>7}{'cpu p50':>10}{'p90':>7}"
          f"{'RSS p50':>10}{'max':>7}")
    for name in chosen:
        wall, cpu, rss = (np.array(col) for col in zip(*samples[name], strict=True))
        print(f"{name:<8}{np.median(wall):>9.2f}s{np.percentile(wall, 90):>6.2f}s"
              f"{wall.max():>6.2f}s{np.median(cpu):>9.2f}s{np.percentile(cpu, 90):>6.2f}s"
              f"{np.median(rss):>8.0f}MB{rss.max():>5.0f}MB")
    if "song" in samples:
        wall = float(np.median([s[0] for s in samples["song"]]))
        cpu = float(np.median([s[1] for s in samples["song"]]))
        print(f"`moviebot song`: wall p50 {wall:.2f} s, CPU p50 {cpu:.2f} s / target "
              f"{TARGET_START_S} s: {'PASS' if max(wall, cpu) <= TARGET_START_S else 'FAIL'}"
              + (" (wall above CPU: waiting for a core)" if wall > cpu * 1.3 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
