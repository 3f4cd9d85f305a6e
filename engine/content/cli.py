"""`moviebot similar "Inception" -k 10 [--json]` and `moviebot eval content`."""

from __future__ import annotations

import argparse
import json


def register(groups) -> None:
    from engine.cli_args import add_common, add_filter_args

    parser = groups.top.add_parser("similar", help="movies like a given movie (content engine)",
                                   description="Movies similar to the one you name, by story, "
                                               "people, genres and era.")
    parser.add_argument("title", help='a movie title, e.g. "Inception" or "Heat 1995", or #movieId')
    parser.add_argument("-k", type=int, default=10, help="how many movies (1-200, default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a list")
    parser.add_argument("--all-series", action="store_true",
                        help="the whole series: every film of its franchise first, and no cap of "
                             "three films per director or franchise")
    add_filter_args(parser)
    add_common(parser)
    parser.set_defaults(func=run_similar)

    ev = groups.eval.add_parser("content", help="held-out NDCG@10 / recall@10 of the content engine",
                                description="Scores the built content vectors on MovieLens test "
                                            "users (never used for training or weight choice), "
                                            "against two ground truths: movies co-liked with the "
                                            "query by those users, and each user's other likes.")
    ev.add_argument("--json", action="store_true", help="print the table as JSON")
    ev.add_argument("--prior-rows", action="store_true",
                    help="also score each block with its own popularity prior (slower)")
    ev.add_argument("--ratings", help="MovieLens-format ratings.csv (default: ml-latest-small)")
    add_common(ev)
    ev.set_defaults(func=run_eval)


def run_similar(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.cli_args import filters_from, settings_from
    from engine.queries import MovieQuery

    engine = Engine.load(settings_from(args).artifacts)
    recs = engine.recommend("content", MovieQuery(engine.resolve(args.title),
                                                  whole_series=args.all_series), k=args.k,
                            filters=filters_from(args))
    if args.json:
        print(json.dumps(recs.to_json(), ensure_ascii=False, indent=2))
        return 0
    query = recs.query.movie
    print(f"Movies like {query.label}:")
    if not recs.results:
        print("  nothing matches those filters; try loosening them.")
    for i, rec in enumerate(recs.results, 1):
        print(f"{i:>3}. {rec.movie.label}  [{rec.score:.3f}]  {rec.reason}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.artifacts import current_version
    from engine.cli_args import settings_from

    from .evaluate import evaluate

    settings = settings_from(args)
    ratings = Path(args.ratings) if args.ratings else None
    report = evaluate(current_version(Path(settings.artifacts)), settings.data_dir,
                      ratings_path=ratings, prior_rows=args.prior_rows)
    if args.json:
        print(json.dumps(report.tables, indent=2))
        return 0
    print(report.format())
    return 0
