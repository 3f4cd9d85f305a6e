"""argparse helpers every `moviebot` command module shares (engine, jobs and bot).

They live in the engine so that engine/*/cli.py never imports ``bot``.
"""

from __future__ import annotations

import argparse

from .config import Settings
from .results import Filters


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts."""
    parser.add_argument("--data-dir", help="raw data directory (env MOVIEBOT_DATA_DIR)")
    parser.add_argument("--artifacts", help="artifacts directory (env MOVIEBOT_ARTIFACTS)")


def add_filter_args(parser: argparse.ArgumentParser, votes: bool = True) -> None:
    """--year-min/--year-max/--genre(/--min-votes): the options every recommending command takes."""
    parser.add_argument("--year-min", type=int, help="only movies from this year on")
    parser.add_argument("--year-max", type=int, help="only movies up to this year")
    parser.add_argument("--genre", action="append", default=[],
                        help="only movies with this genre (repeat for any of several)")
    if votes:
        parser.add_argument("--min-votes", type=int, default=0,
                            help="only movies with this many votes")


def filters_from(args: argparse.Namespace) -> Filters | None:
    """The engine Filters for add_filter_args' options; None when none was given."""
    filters = Filters(year_min=args.year_min, year_max=args.year_max, genres=args.genre,
                      min_votes=getattr(args, "min_votes", 0))
    return None if filters.is_empty() else filters


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None),
                             artifacts=getattr(args, "artifacts", None))
