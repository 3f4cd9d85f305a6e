"""`moviebot jobs run`: an in-process scheduler, and the lock every training job holds.

The scheduler wakes up every ``tick`` seconds and runs what is due: ``retrain`` every
``retrain_every``, ``rebuild-content`` (a no-op unless the raw data changed) every
``content_every``, ``eval`` every ``eval_every``, ``catalog-update`` (new releases from
TMDB, jobs/catalog_update.py; skipped without TMDB_API_KEY) every ``catalog_every``. "Due" is measured from the last run
recorded in the store, so a restarted scheduler does not retrain at once. Cron users run
the same jobs one-shot (``moviebot jobs retrain`` ...); both take the ``JobLock`` (runs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from . import report
from . import retrain as jobs
from .runs import JobLocked

log = logging.getLogger("moviebot.jobs")

@dataclass
class Schedule:
    retrain_every: float = 6 * 3600.0
    content_every: float = 24 * 3600.0
    eval_every: float = 24 * 3600.0
    catalog_every: float = 24 * 3600.0
    tick: float = 60.0
    quick: bool = False
    tolerance: float | None = None
    keep: int | None = None
    force: bool = False             # publish even if the gate fails (one-shot runs)

    def jobs(self) -> dict[str, float]:
        return {"retrain": self.retrain_every, "rebuild-content": self.content_every,
                "eval": self.eval_every, "catalog-update": self.catalog_every}


async def last_runs(store: Any) -> dict[str, float]:
    """Unix time of each job's last recorded run (skips and failures count too)."""
    out: dict[str, float] = {}
    for run in await store.job_runs(limit=200):
        out.setdefault(run.name, run.finished_at.timestamp())
    return out


async def run_job(name: str, settings: Any, store: Any, schedule: Schedule) -> Any:
    """Run one job by name; the one place the CLI and the scheduler both go through."""
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
        return await report.evaluate_current(settings, store)
    if name == "catalog-update":
        from . import catalog_update

        return await catalog_update.run(settings, store)
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
            if name == "catalog-update" and not getattr(settings, "tmdb_api_key", ""):
                continue   # without a key the catalog stays as built, as it always was
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
