"""`moviebot build`: build a new artifacts version and publish it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(groups) -> None:
    from engine.cli_args import add_common

    parser = groups.top.add_parser(
        "build", help="build catalog, indices and models into a new artifacts version",
        description="Builds every component into a new version directory under the artifacts "
                    "directory, writes manifest.json, then switches `current` to it atomically.")
    add_common(parser)
    parser.add_argument("--quick", action="store_true",
                        help="tiny models (seconds, for tests and smoke runs)")
    parser.add_argument("--out", help="artifacts directory to publish into (default: MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--ratings", help="train on this MovieLens-format ratings.csv")
    parser.add_argument("--only", action="append", metavar="COMPONENT",
                        help="rebuild only these components, reuse the rest from the current version")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-publish", action="store_true", help="build but leave `current` alone")
    # default SUPPRESS: `moviebot -v build` (the top-level flag) keeps working
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging and TensorFlow's own log lines (silenced by default)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when a version is already published (used by `make run`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from engine import artifacts
    from engine.build_context import BuildContext
    from engine.cli_args import settings_from
    from engine.errors import DataError

    from .build import run_build
    from .quiet import quiet_native_logs

    settings = settings_from(args)
    out_root = Path(args.out) if args.out else settings.artifacts
    ratings = Path(args.ratings) if args.ratings else None
    if ratings is not None and not ratings.exists():
        raise DataError(str(ratings), "ratings file not found", "pass an existing ratings.csv")
    try:
        previous = artifacts.current_version(out_root)
    except DataError:
        previous = None
    # stdout stays empty: `make run` builds, then chats on the same stdout. Progress bars,
    # logs and the summary line go to stderr.
    if args.if_missing and previous is not None:
        print(f"artifacts already built: {previous} (run `moviebot build` to rebuild)",
              file=sys.stderr)
        return 0
    if ratings is None:
        from engine.cli_args import incomplete_data_help
        from engine.config import missing_required

        missing = missing_required(Path(settings.data_dir))
        if missing:
            raise DataError(str(settings.data_dir),
                            f"{len(missing)} required data file(s) missing, e.g. {missing[0]}",
                            incomplete_data_help(args, settings.data_dir))
    verbose = bool(getattr(args, "verbose", False))
    if verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    ctx = BuildContext(data_dir=settings.data_dir, out_dir=artifacts.new_version_dir(out_root),
                       quick=args.quick, seed=args.seed, ratings_path=ratings,
                       previous_dir=previous)
    # log lines print above the stage bar instead of through it
    with quiet_native_logs(verbose), logging_redirect_tqdm():
        version = run_build(ctx, only=args.only, publish=not args.no_publish)
    print(f"built {version}" + ("" if args.no_publish else f" and published it as {out_root / 'current'}"),
          file=sys.stderr)
    return 0
