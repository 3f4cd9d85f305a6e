"""`moviebot top [--genre Crime] [--year-max 1979] -k 10 [--json]`."""

from __future__ import annotations

import argparse
import json

from engine.cli_args import add_common, add_filter_args


def register(groups) -> None:
    parser = groups.top.add_parser("top", help="the best-rated movies (toprated engine)",
                                   description="The catalog's best-rated movies by a Bayesian "
                                               "average of their MovieLens ratings, filtered.")
    parser.add_argument("-k", type=int, default=10, help="how many movies (1-200, default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a list")
    add_filter_args(parser)
    add_common(parser)
    parser.set_defaults(func=run_top)


def run_top(args: argparse.Namespace) -> int:
    from engine import Engine  # lazy: `moviebot --help` must not load the catalog
    from engine.cli_args import filters_from, settings_from

    from .serving import TopQuery

    engine = Engine.load(settings_from(args).artifacts)
    recs = engine.recommend("toprated", TopQuery(), k=args.k, filters=filters_from(args))
    if args.json:
        print(json.dumps(recs.to_json(), ensure_ascii=False, indent=2))
        return 0
    for i, rec in enumerate(recs.results, 1):
        print(f"{i:>3}. {rec.movie.label}  [{rec.score:.2f}]  {rec.reason}")
    if not recs.results:
        print("  nothing matches those filters; try loosening them.")
    return 0
