"""`moviebot recommend` and `moviebot eval collab`."""

from __future__ import annotations

import argparse
import json
import sys


def register(groups) -> None:
    from engine.cli_args import add_common, add_filter_args

    rec = groups.top.add_parser(
        "recommend", help="personal picks from a rating history (any user, no retraining)",
        description='Example: moviebot recommend --history "318:5,260:4.5,1196:like" -k 10')
    add_common(rec)
    rec.add_argument("--history", required=True,
                     help='comma-separated MOVIE_ID:SIGNAL, SIGNAL = 0.5-5 stars, like or dislike')
    rec.add_argument("-k", type=int, default=10, help="how many picks (1-200)")
    rec.add_argument("--json", action="store_true", help="print the result as JSON")
    add_filter_args(rec)
    rec.set_defaults(func=run_recommend)

    ev = groups.eval.add_parser(
        "collab", help="collaborative models on held-out users (ml-latest-small, ml-100k)")
    add_common(ev)
    ev.add_argument("--dataset", action="append", choices=["ml-latest-small", "ml-100k"],
                    help="evaluate only this dataset (repeatable; default both)")
    ev.add_argument("--quick", action="store_true", help="small models, no SVD++ (for tests)")
    ev.add_argument("--seed", type=int, default=42)
    ev.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ev.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    ev.add_argument("--chart", metavar="PNG", help="also draw the NDCG@10 chart")
    ev.set_defaults(func=run_eval)


def run_recommend(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.cli_args import filters_from, settings_from
    from engine.collab.signals import parse_history
    from engine.queries import HistoryQuery

    history = parse_history(args.history)   # friendly InvalidInput before loading anything
    engine = Engine.load(settings_from(args).artifacts)
    recs = engine.recommend("collab", HistoryQuery.of(history), k=args.k,
                            filters=filters_from(args))
    if args.json:
        json.dump(recs.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    q = recs.query
    if q.unknown_ids:
        print(f"(ignored unknown movie ids: {', '.join(map(str, q.unknown_ids))})")
    if q.cold_start:
        print("Tell me a few more films you liked or disliked for personal picks; meanwhile:")
    for n, rec in enumerate(recs.results, 1):
        print(f"{n:>2}. {rec.movie.label}  — {rec.reason}")
    if q.cold_start and q.onboarding:
        print("Rate some of these to get started: "
              + "; ".join(f"{m['title']} ({m['year']}) #{m['movie_id']}" for m in q.onboarding))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.cli_args import settings_from
    from engine.collab.evaluate import evaluate, write_outputs

    report = evaluate(None, settings_from(args).data_dir, benchmark=True, datasets=args.dataset,
                      quick=args.quick, seed=args.seed)
    print(report.format())
    write_outputs(report.tables, Path(args.json) if args.json else None,
                  Path(args.markdown) if args.markdown else None,
                  Path(args.chart) if args.chart else None)
    return 0
