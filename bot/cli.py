"""The `moviebot` command line.

Each feature registers its own subcommands (``register(groups)``) in a small module, and
heavy libraries are imported inside the command functions, so `moviebot --help` and the
bots start quickly and never import TensorFlow unless a command trains something.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from dataclasses import dataclass

from engine.config import Settings
from engine.errors import MovieBotError

# Modules with a `register(groups: CommandGroups)` function, in help order.
COMMAND_MODULES = [
    "bot.chat_cli",
    "bot.serve_cli",
    "jobs.data_cli",
    "jobs.build_cli",
    "jobs.jobs_cli",
    "engine.content.cli",
    "engine.collab.cli",
    "engine.crossmedia.cli",
]


@dataclass
class CommandGroups:
    top: argparse._SubParsersAction      # moviebot <command>
    eval: argparse._SubParsersAction     # moviebot eval <what>


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


def filters_from(args: argparse.Namespace):
    """The engine Filters for add_filter_args' options; None when none was given."""
    from engine.results import Filters

    filters = Filters(year_min=args.year_min, year_max=args.year_max, genres=args.genre,
                      min_votes=getattr(args, "min_votes", 0))
    return None if filters.is_empty() else filters


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None),
                             artifacts=getattr(args, "artifacts", None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moviebot",
        description="Movie recommendations in your terminal, on Telegram and on Discord.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", metavar="<command>")
    eval_parser = top.add_parser("eval", help="evaluate a recommender on held-out data")
    groups = CommandGroups(top=top, eval=eval_parser.add_subparsers(dest="what", metavar="<what>"))
    eval_parser.set_defaults(func=lambda args: eval_parser.print_help() or 2)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MovieBotError as exc:
        print(f"moviebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
