"""`moviebot party` and `moviebot eval party`."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InvalidInput
from ..queries import GroupMember

MEMBER_SEPARATOR = "|"
WATCH_WORDS = {"watchlist", "watch", "w"}


def register(groups) -> None:
    from ..cli_args import add_common, add_filter_args
    from .aggregate import FAIRNESS

    party = groups.top.add_parser(
        "party", help="films for a group to watch together, from each member's history",
        description='Example: moviebot party --members "Ann=318:5,260:4|Bo=1196:like,2571:5" '
                    "-k 5. Members are separated by |; each is an optional NAME= and "
                    "MOVIE_ID:SIGNAL pairs (0.5-5 stars, like, dislike or watchlist).")
    add_common(party)
    party.add_argument("--members", required=True,
                       help='members separated by "|", each [NAME=]MOVIE_ID:SIGNAL,...')
    party.add_argument("-k", type=int, default=5, help="how many films (1-200)")
    party.add_argument("--rewatch", action="store_true",
                       help="allow films a member has already rated")
    party.add_argument("--fairness", choices=FAIRNESS,
                       help="how members' benefits are combined (default: the evaluated one)")
    party.add_argument("--json", action="store_true", help="print the result as JSON")
    add_filter_args(party)
    party.set_defaults(func=run_party)

    ev = groups.eval.add_parser(
        "party", help="group lists for synthetic groups of held-out MovieLens users")
    add_common(ev)
    ev.add_argument("--quick", action="store_true", help="small model, few groups (for tests)")
    ev.add_argument("--seed", type=int, default=42)
    ev.add_argument("--groups", type=int, help="groups per size and split (default 1000; quick 15)")
    ev.add_argument("--model", choices=["als", "ease"],
                    help="collab model to train (default: the published version's, else ease)")
    ev.add_argument("--split", choices=["validation", "test", "both"], default="both",
                    help="which groups to score (validation alone while tuning; default both)")
    ev.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ev.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    ev.set_defaults(func=run_eval)


def parse_members(text: str) -> list[GroupMember]:
    """ "Ann=318:5,260:4|Bo=1196:like" -> members; unnamed ones are "Member 1", "Member 2"...
    A named member may have no history ("Cy="). Friendly InvalidInput for anything else."""
    from ..collab.signals import parse_history

    parts = text.split(MEMBER_SEPARATOR)
    if not text.strip():
        raise InvalidInput('Give the members as histories separated by "|", '
                           'e.g. "318:5,260:4|1196:like,2571:5".')
    members = []
    for n, part in enumerate(parts, 1):
        name, sep, history = part.partition("=")
        if not sep:
            name, history = f"Member {n}", part
        name = name.strip()
        if not name:
            raise InvalidInput(f"Member {n} has an empty name before “=”.")
        tokens = [t.strip() for t in history.replace(";", ",").split(",") if t.strip()]
        if not tokens:
            if sep:
                members.append(GroupMember(name, ()))
                continue
            raise InvalidInput(f"Member {n} has no history: give MOVIE_ID:RATING pairs, e.g. "
                               "318:5, or a name with nothing after it (“Cy=”).")
        watch = [t for t in tokens if t.partition(":")[2].strip().lower() in WATCH_WORDS]
        rated = [t for t in tokens if t not in watch]
        try:
            pairs = parse_history(",".join(rated)) if rated else []
            pairs += [(int(t.partition(":")[0]), "watchlist") for t in watch]
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: {exc}") from None
        except ValueError:
            raise InvalidInput(f"{name}: “{watch[0]}” should look like MOVIE_ID:watchlist, "
                               "e.g. 318:watchlist.") from None
        members.append(GroupMember.of(name, pairs))
    return members


def run_party(args: argparse.Namespace) -> int:
    from engine import Engine
    from engine.cli_args import filters_from, settings_from

    from ..queries import GroupQuery

    members = parse_members(args.members)   # friendly errors before loading anything
    engine = Engine.load(settings_from(args).artifacts)
    recs = engine.group_recommend(GroupQuery(tuple(members), rewatch=args.rewatch,
                                             fairness=args.fairness),
                                  k=args.k, filters=filters_from(args))
    if args.json:
        json.dump(recs.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    q = recs.query
    if q.unknown_ids:
        print(f"(ignored unknown movie ids: {', '.join(map(str, q.unknown_ids))})")
    if q.note:
        print(q.note)
    for n, rec in enumerate(recs.results, 1):
        print(f"{n:>2}. {rec.movie.label}  — {rec.reason}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.cli_args import settings_from

    from .evaluate import evaluate, write_json

    settings = settings_from(args)
    report = evaluate(settings.artifacts, settings.data_dir, quick=args.quick, seed=args.seed,
                      per_size=args.groups, model=args.model,
                      splits=("validation", "test") if args.split == "both" else (args.split,))
    print(report.format())
    if args.json:
        write_json(report.tables, Path(args.json))
    if args.markdown:
        Path(args.markdown).write_text(report.format())
    return 0
