"""`moviebot catalog update`: add new releases from TMDB to the served catalog (jobs/catalog_update.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date


def _date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _pages(value: str) -> int:
    try:
        pages = int(value)
    except ValueError:
        pages = 0
    if not 1 <= pages <= 500:
        raise argparse.ArgumentTypeError("--pages takes 1 to 500 (TMDB serves no page past 500)")
    return pages


def register(groups) -> None:
    # Only argparse here: every `moviebot` command builds this parser, and importing the
    # update job (pandas, aiohttp) would slow the start of each of them, /song included.
    from engine.cli_args import add_common

    catalog = groups.top.add_parser("catalog", help="the served catalog: update it from TMDB")
    sub = catalog.add_subparsers(dest="catalog_command", metavar="<command>")
    catalog.set_defaults(func=lambda args: catalog.print_help() or 2)
    p = sub.add_parser(
        "update", help="add new releases from TMDB (needs TMDB_API_KEY); no retraining",
        description="Fetches TMDB's now playing, upcoming, popular and trending lists (and, "
                    "with --since, every film released since that date), plus titles users "
                    "asked for that were not found; adds the new films and refreshes known "
                    "ones in a new artifacts version, then publishes it (running bots reload). "
                    "An interrupted update continues where it stopped when run again.")
    add_common(p)
    p.add_argument("--since", type=_date, help="also add films released on or after this date")
    p.add_argument("--until", type=_date, help="with --since: released up to this date")
    p.add_argument("--pages", type=_pages, default=None,
                   help="pages per TMDB list, 20 films a page (default 10)")
    p.add_argument("--lists", default=None,
                   help="TMDB lists to read, comma-separated (default: now_playing, upcoming, "
                        "popular and trending; '' for none)")
    p.add_argument("--keep", type=int, default=5, help="artifact versions to keep (default 5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_update)


def run_update(args: argparse.Namespace) -> int:
    from engine.errors import MovieBotError
    from engine.tmdb import LISTS

    from .catalog_update import DEFAULT_LISTS, DEFAULT_PAGES, UpdateOptions, update_catalog
    from .jobs_cli import _settings

    settings = _settings(args)
    chosen = ",".join(DEFAULT_LISTS) if args.lists is None else args.lists
    lists = tuple(name.strip() for name in chosen.split(",") if name.strip())
    unknown = [name for name in lists if name not in LISTS]
    if unknown:
        print(f"moviebot catalog update: unknown list(s) {', '.join(unknown)}; choose from "
              f"{', '.join(LISTS)}", file=sys.stderr)
        return 2
    options = UpdateOptions(since=args.since, until=args.until, pages=args.pages or DEFAULT_PAGES, lists=lists,
                            keep=args.keep, progress=not args.no_progress)
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .quiet import quiet_native_logs

    try:
        # the content fold-in runs the build's encoder: TensorFlow's native log lines are
        # filtered as in `moviebot build` (shown with `moviebot -v`)
        with quiet_native_logs(getattr(args, "verbose", False)), logging_redirect_tqdm():
            result = asyncio.run(update_catalog(settings.artifacts, settings.tmdb_api_key,
                                                settings.tmdb_api_base_url, options))
    except MovieBotError as exc:
        print(f"moviebot catalog update: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(f"{result.name}: {result.status}" + (f" · serving {result.version}" if result.version else ""))
        for reason in result.reasons:
            print(f"  {reason}")
        seconds = result.details.get("seconds", {})
        if seconds:
            print("  seconds: " + ", ".join(f"{k} {v}" for k, v in seconds.items()))
    return 0 if result.status in ("published", "unchanged") else 1
