"""The `moviebot` command line.

Each feature registers its own subcommands (``register(groups)``) in a small module, and
heavy libraries are imported inside the command functions, so `moviebot --help` and the
bots start quickly and never import TensorFlow unless a command trains something.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from dataclasses import dataclass

from bot.settings import BotSettings
from engine.cli_args import add_common, add_filter_args, filters_from
from engine.components import COMPONENTS
from engine.errors import AmbiguousTitle, MovieBotError, UnknownTitle
from engine.spec import load_target

__all__ = ["CommandGroups", "add_common", "add_filter_args", "build_parser", "error_json",
           "filters_from", "main", "settings_from"]

# Modules with a `register(groups: CommandGroups)` function, in help order; each
# recommender's own commands come from its ComponentSpec.cli (engine/components.py).
FRONT_END_MODULES = [
    "bot.chat_cli",
    "bot.serve_cli",
    "jobs.data_cli",
    "jobs.build_cli",
    "jobs.jobs_cli",
    # the party recommender composes collab and content and has no registry entry of its
    # own (engine/party/__init__.py), so its commands are registered here
    "engine.party.cli",
]


def settings_from(args: argparse.Namespace) -> BotSettings:
    """Every setting a bot or job process needs: the environment, then --data-dir/--artifacts."""
    return BotSettings.from_env(data_dir=getattr(args, "data_dir", None),
                                artifacts=getattr(args, "artifacts", None))


@dataclass
class CommandGroups:
    top: argparse._SubParsersAction      # moviebot <command>
    eval: argparse._SubParsersAction     # moviebot eval <what>


class UsageError(MovieBotError):
    """A command line argparse refuses (``-k abc``); raised only under ``--json``."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that under ``--json`` a usage error is raised (and printed as a
    JSON error by `main`) instead of a usage text on stderr. Subcommands inherit it."""

    json_errors = False

    def error(self, message: str):  # type: ignore[override]
        if _Parser.json_errors:
            raise UsageError(f"{self.prog}: {message}")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="moviebot",
        description="Movie recommendations in your terminal, on Telegram and on Discord.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", metavar="<command>")
    eval_parser = top.add_parser("eval", help="evaluate a recommender on held-out data")
    groups = CommandGroups(top=top, eval=eval_parser.add_subparsers(dest="what", metavar="<what>"))
    eval_parser.set_defaults(func=lambda args: eval_parser.print_help() or 2)
    for name in FRONT_END_MODULES:
        importlib.import_module(name).register(groups)
    for spec in COMPONENTS:
        if spec.cli:
            load_target(spec.cli)(groups)
    return parser


def error_json(exc: MovieBotError) -> dict:
    """What a `--json` command prints when it fails: {"error": {"type", "message", ...}},
    with the candidates a title error offers (``suggestions``)."""
    # Scripts branch on "type": a refinement (NotInCatalog, SeriesChoice) keeps its parent's
    # stable name and adds what it knows.
    stable = next((t for t in (UnknownTitle, AmbiguousTitle) if isinstance(exc, t)), type(exc))
    error: dict = {"type": stable.__name__, "message": str(exc)}
    candidates = getattr(exc, "suggestions", None) or getattr(exc, "candidates", None)
    if isinstance(exc, (UnknownTitle, AmbiguousTitle)):
        error["query"] = exc.query
        if getattr(exc, "coverage", ""):
            error["coverage"] = exc.coverage
        error["suggestions"] = [
            {"movie_id": c.movie_id, "title": c.title, "year": c.year,
             "confidence": round(c.confidence, 4), **({"ref": c.ref} if c.ref else {})}
            for c in candidates or []]
    return {"error": error}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    _Parser.json_errors = "--json" in argv
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(json.dumps(error_json(exc), ensure_ascii=False, indent=2))
        return 2
    finally:
        _Parser.json_errors = False
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Every configured token, key and password is blanked out of every log line and
    # traceback, third-party ones included, at every level (README: tokens are never logged).
    from bot.logsafe import install
    from bot.settings import env_secrets

    install(env_secrets())
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MovieBotError as exc:
        if getattr(args, "json", None) is True:   # `--json` asked for JSON: errors too
            print(json.dumps(error_json(exc), ensure_ascii=False, indent=2))
        else:
            print(f"moviebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
