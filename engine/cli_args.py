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


def data_dir_explicit(args: argparse.Namespace) -> bool:
    """Whether --data-dir or MOVIEBOT_DATA_DIR chose the data directory (no search then)."""
    return bool(getattr(args, "data_dir", None)) or "data_dir" in Settings.env_values()


def incomplete_data_help(args: argparse.Namespace, data_dir) -> str:
    """For a data directory that lacks required files: where moviebot looked, and what to do."""
    from .config import search_data_dir

    if data_dir_explicit(args):
        return (f"The data directory {data_dir} was chosen with --data-dir or MOVIEBOT_DATA_DIR, "
                "so no other location is searched: point it at a folder that holds movielens/ "
                "and spotify/, or run `moviebot data fetch` to fill it.")
    search = search_data_dir()
    return ("No complete data directory found. Looked at, in order (the first complete one "
            f"is used):\n{search.describe()}\nFix: run `moviebot data fetch` (downloads into "
            f"{search.chosen}), or set MOVIEBOT_DATA_DIR to a folder that holds movielens/ and "
            "spotify/.")
