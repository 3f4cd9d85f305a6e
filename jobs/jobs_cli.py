"""`moviebot jobs run|retrain|rebuild-content|eval` and `moviebot report`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from bot.settings import BotSettings
from engine.cli_args import add_common
from engine.errors import MovieBotError

from .report import write_report
from .retrain import DEFAULT_KEEP, DEFAULT_TOLERANCE
from .scheduler import Schedule, run_job
from .scheduler import run_scheduler as scheduler_loop


def register(groups) -> None:
    jobs = groups.top.add_parser("jobs", help="retrain, rebuild and evaluate (scheduler or one-shot)")
    sub = jobs.add_subparsers(dest="job", metavar="<job>")
    jobs.set_defaults(func=lambda args: jobs.print_help() or 2)

    def job_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        add_common(p)
        p.add_argument("--database-url", help="feedback store (env DATABASE_URL)")
        p.add_argument("--quick", action="store_true", help="small models (smoke runs, tests)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        return p

    def gated(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                       help="publish if the gate metric fell by at most this fraction "
                            f"(default {DEFAULT_TOLERANCE})")
        p.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                       help=f"versions to keep (default {DEFAULT_KEEP})")
        p.add_argument("--force", action="store_true", help="publish even if the gate fails")

    p = job_parser("retrain", "retrain collab on MovieLens + feedback; publish if not worse")
    gated(p)
    p.set_defaults(func=run_once, job_name="retrain")
    p = job_parser("rebuild-content", "rebuild catalog/content/cross-media if the data changed")
    gated(p)
    p.set_defaults(func=run_once, job_name="rebuild-content")
    p = job_parser("eval", "re-evaluate the published version on held-out data")
    p.set_defaults(func=run_once, job_name="eval")
    p = job_parser("catalog-update", "add new releases from TMDB (needs TMDB_API_KEY; "
                                     "options: `moviebot catalog update`)")
    p.set_defaults(func=run_once, job_name="catalog-update")

    p = job_parser("run", "run the scheduler in this process (Ctrl-C to stop)")
    gated(p)
    p.add_argument("--retrain-every", type=float, default=6.0, metavar="HOURS")
    p.add_argument("--content-every", type=float, default=24.0, metavar="HOURS")
    p.add_argument("--eval-every", type=float, default=24.0, metavar="HOURS")
    p.add_argument("--catalog-every", type=float, default=24.0, metavar="HOURS",
                   help="TMDB catalog updates (skipped without TMDB_API_KEY)")
    p.add_argument("--tick", type=float, default=60.0, metavar="SECONDS",
                   help="how often to look for due jobs")
    p.add_argument("--once", action="store_true", help="run the due jobs once and exit")
    p.set_defaults(func=run_scheduler)

    p = groups.top.add_parser("report", help="HTML report with charts of metrics across versions")
    add_common(p)
    p.add_argument("--database-url", help="feedback store with the job history (env DATABASE_URL)")
    p.add_argument("--no-store", action="store_true", help="only the versions on disk")
    p.add_argument("--out", default="", help="output directory (default: <artifacts>/../report)")
    p.set_defaults(func=run_report)


def _settings(args: argparse.Namespace) -> BotSettings:
    # the jobs share the bots' feedback database, so they read the bots' settings
    settings = BotSettings.from_env(data_dir=getattr(args, "data_dir", None),
                                    artifacts=getattr(args, "artifacts", None))
    if getattr(args, "database_url", None):
        settings.database_url = args.database_url
    return settings


async def _open_store(url: str, schema: str = ""):
    """The feedback store, or a one-line error that says which database failed."""
    from bot.store import Store  # lazy: SQLAlchemy and the drivers; only commands with a store
    from engine.config import _mask_url

    try:
        return await Store.open(url, schema=schema or None)
    except Exception as exc:
        raise MovieBotError(f"cannot open the feedback store {_mask_url(url)}: {exc}. "
                            "Check DATABASE_URL (or --database-url).") from None


def _schedule(args: argparse.Namespace):
    return Schedule(quick=args.quick, tolerance=getattr(args, "tolerance", None),
                    keep=getattr(args, "keep", None), force=getattr(args, "force", False),
                    retrain_every=getattr(args, "retrain_every", 6.0) * 3600,
                    content_every=getattr(args, "content_every", 24.0) * 3600,
                    eval_every=getattr(args, "eval_every", 24.0) * 3600,
                    catalog_every=getattr(args, "catalog_every", 24.0) * 3600,
                    tick=getattr(args, "tick", 60.0))


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    print(f"{result.name}: {result.status}" + (f" · serving {result.version}" if result.version else ""))
    for reason in result.reasons:
        print(f"  {reason}")


def run_once(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")  # shared small machines
    settings = _settings(args)

    async def main() -> Any:
        store = await _open_store(settings.database_url, settings.database_schema)
        try:
            return await run_job(args.job_name, settings, store, _schedule(args))
        finally:
            await store.close()

    result = asyncio.run(main())
    _print(result, args.json)
    return 0 if result.status in ("published", "rejected", "unchanged", "ok", "skipped") else 1


def run_scheduler(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
    settings = _settings(args)

    async def main() -> int:
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            running.add_signal_handler(sig, stop.set)
        store = await _open_store(settings.database_url, settings.database_schema)
        try:
            return await scheduler_loop(settings, store, _schedule(args), stop=stop, once=args.once)
        finally:
            await store.close()

    return asyncio.run(main())


def run_report(args: argparse.Namespace) -> int:
    settings = _settings(args)
    root = Path(settings.artifacts)
    out = Path(args.out) if args.out else root.parent / "report"

    async def runs() -> list:
        store = await _open_store(settings.database_url, settings.database_schema)
        try:
            return await store.job_runs(limit=500)
        finally:
            await store.close()

    job_runs = [] if args.no_store else asyncio.run(runs())
    path = write_report(root, out, job_runs)
    print(f"report written to {path}")
    return 0
