"""`moviebot build`: build a new artifacts version and publish it."""

from __future__ import annotations

import argparse
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
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when a version is already published (used by `make run`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine import artifacts
    from engine.build_context import BuildContext
    from engine.cli_args import settings_from
    from engine.errors import DataError

    from .build import run_build

    settings = settings_from(args)
    out_root = Path(args.out) if args.out else settings.artifacts
    ratings = Path(args.ratings) if args.ratings else None
    if ratings is not None and not ratings.exists():
        raise DataError(str(ratings), "ratings file not found", "pass an existing ratings.csv")
    try:
        previous = artifacts.current_version(out_root)
    except DataError:
        previous = None
    if args.if_missing and previous is not None:
        print(f"artifacts already built: {previous} (run `moviebot build` to rebuild)")
        return 0
    if ratings is None:
        from engine.cli_args import incomplete_data_help
        from engine.config import missing_required

        missing = missing_required(Path(settings.data_dir))
        if missing:
            raise DataError(str(settings.data_dir),
                            f"{len(missing)} required data file(s) missing, e.g. {missing[0]}",
                            incomplete_data_help(args, settings.data_dir))
    ctx = BuildContext(data_dir=settings.data_dir, out_dir=artifacts.new_version_dir(out_root),
                       quick=args.quick, seed=args.seed, ratings_path=ratings,
                       previous_dir=previous)
    version = run_build(ctx, only=args.only, publish=not args.no_publish)
    print(f"built {version}" + ("" if args.no_publish else f" and published it as {out_root / 'current'}"))
    return 0
