"""`moviebot jobs run`: an in-process scheduler, and the lock every training job holds.

The scheduler wakes up every ``tick`` seconds and runs what is due: ``retrain`` every
``retrain_every``, ``rebuild-content`` (a no-op unless the raw data changed) every
``content_every``, ``eval`` every ``eval_every``. "Due" is measured from the last run
recorded in the store, so a restarted scheduler does not retrain at once. Cron users run
the same jobs one-shot (``moviebot jobs retrain`` ...); both take the ``JobLock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import MovieBotError

log = logging.getLogger("moviebot.jobs")

LOCK_FILE = ".jobs.lock"


class JobLocked(MovieBotError):
    def __init__(self, path: Path, holder: str):
        super().__init__(path, holder)
        self.path, self.holder = path, holder

    def __str__(self) -> str:
        return (f"another job is already running ({self.holder or 'unknown holder'}; "
                f"lock {self.path}); try again when it has finished")


class JobLock:
    """An exclusive ``fcntl`` lock on a file next to the artifacts.

    The kernel drops it when the holder exits, even on ``kill -9``, so a crashed job
    never blocks the next one. The file says who holds it, for the error message.
    Not reentrant: a job must not take it twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def for_artifacts(cls, root: str | Path) -> JobLock:
        return cls(Path(root) / LOCK_FILE)

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[None]:
        """Hold the lock for ``job`` or raise ``JobLocked`` at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                raise JobLocked(self.path, holder) from None
            info = json.dumps({"job": job, "pid": os.getpid(),
                               "since": datetime.now(UTC).isoformat(timespec="seconds")})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def is_held(self) -> bool:
        try:
            with self.hold("probe"):
                return False
        except JobLocked:
            return True


@dataclass
class Schedule:
    retrain_every: float = 6 * 3600.0
    content_every: float = 24 * 3600.0
    eval_every: float = 24 * 3600.0
    tick: float = 60.0
    quick: bool = False
    tolerance: float | None = None
    keep: int | None = None
    force: bool = False             # publish even if the gate fails (one-shot runs)

    def jobs(self) -> dict[str, float]:
        return {"retrain": self.retrain_every, "rebuild-content": self.content_every,
                "eval": self.eval_every}


async def last_runs(store: Any) -> dict[str, float]:
    """Unix time of each job's last recorded run (skips and failures count too)."""
    out: dict[str, float] = {}
    for run in await store.job_runs(limit=200):
        out.setdefault(run.name, run.finished_at.timestamp())
    return out


async def run_job(name: str, settings: Any, store: Any, schedule: Schedule) -> Any:
    """Run one job by name; the one place the CLI and the scheduler both go through."""
    from . import retrain as jobs

    kwargs: dict[str, Any] = {"quick": schedule.quick}
    if schedule.tolerance is not None:
        kwargs["tolerance"] = schedule.tolerance
    if schedule.keep is not None:
        kwargs["keep"] = schedule.keep
    if schedule.force:
        kwargs["force"] = True
    if name == "retrain":
        return await jobs.retrain(settings, store, **kwargs)
    if name == "rebuild-content":
        return await jobs.rebuild_content(settings, store, **kwargs)
    if name == "eval":
        from .report import evaluate_current

        return await evaluate_current(settings, store)
    raise ValueError(f"unknown job {name!r}")


async def run_scheduler(settings: Any, store: Any, schedule: Schedule,
                        stop: asyncio.Event | None = None, once: bool = False) -> int:
    """Run due jobs until ``stop`` is set (or after one pass with ``once``)."""
    stop = stop or asyncio.Event()
    log.info("scheduler started: %s", schedule)
    while not stop.is_set():
        try:
            last = await last_runs(store)
        except Exception as exc:  # the DB is down: try again next tick
            log.warning("scheduler: cannot read job runs (%s)", exc)
            last = None
        now = time.time()
        for name, every in schedule.jobs().items():
            if stop.is_set() or last is None or now - last.get(name, 0.0) < every:
                continue
            started = time.perf_counter()
            try:
                result = await run_job(name, settings, store, schedule)
                log.info("scheduler: %s -> %s in %.1fs", name, getattr(result, "status", "ok"),
                         time.perf_counter() - started)
            except JobLocked as exc:
                log.info("scheduler: %s skipped: %s", name, exc)
            except Exception:
                log.exception("scheduler: %s crashed", name)
                with contextlib.suppress(Exception):
                    await store.record_job_run(name, "failed", {"error": "crashed; see log"})
        if once:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), schedule.tick)
    log.info("scheduler stopped")
    return 0
