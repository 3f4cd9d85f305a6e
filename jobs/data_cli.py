"""`moviebot data check | fetch | report`: get the raw data and make sure it is usable."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path


def register(groups) -> None:
    from engine.cli_args import add_common

    data = groups.top.add_parser("data", help="fetch, check and report on the raw datasets")
    actions = data.add_subparsers(dest="data_action", metavar="<action>")
    data.set_defaults(func=lambda args: data.print_help() or 2)

    check = actions.add_parser(
        "check", help="validate a data directory against data/manifest.json",
        description="Checks that every required file is there, has the expected columns and "
                    "encoding, and (with --checksums) the expected sha256. Exit code 1 when "
                    "something must be fixed before `moviebot build`.")
    add_common(check)
    check.add_argument("--checksums", action="store_true",
                       help="also verify sha256 (a mismatch is a warning: it may be a newer release)")
    check.add_argument("--manifest", help="a different manifest file (env MOVIEBOT_DATA_MANIFEST)")
    check.set_defaults(func=run_check)

    fetch = actions.add_parser(
        "fetch", help="download the openly downloadable datasets (or copy them from a mirror)",
        description="Downloads MovieLens (ml-latest-small, ml-100k, ml-20m-youtube), the "
                    "TidyTuesday Spotify songs and the soundtrack list into the data directory, "
                    "verifying each file's sha256. Files already there are skipped. Prints "
                    "where to get the sets that need a Kaggle login.")
    add_common(fetch)
    fetch.add_argument("--from", dest="mirror", metavar="DIR",
                       help="copy from a local mirror with the same layout instead of downloading")
    fetch.add_argument("--only", action="append", metavar="NAME",
                       help=f"only this dataset (repeatable): {_dataset_names()}")
    fetch.add_argument("--strict", action="store_true",
                       help="reject files whose sha256 differs from the manifest")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    fetch.add_argument("--manifest", help="a different manifest file (env MOVIEBOT_DATA_MANIFEST)")
    fetch.set_defaults(func=run_fetch)

    report = actions.add_parser("report", help="print how much of the catalog each source covers")
    add_common(report)
    report.set_defaults(func=run_report)


def _dataset_names() -> str:
    from engine.datasets.manifest import load_manifest
    from engine.errors import MovieBotError

    try:
        return ", ".join(load_manifest().datasets)
    except (MovieBotError, KeyError, TypeError):  # a broken manifest must not break --help
        return "see data/manifest.json"


def run_check(args: argparse.Namespace) -> int:
    from engine.cli_args import settings_from
    from engine.datasets.manifest import check_data_dir, load_manifest

    data_dir = Path(settings_from(args).data_dir)  # --data-dir arrives as a str
    manifest = load_manifest(args.manifest)
    problems = check_data_dir(data_dir, verify_checksums=args.checksums, manifest=manifest)
    print(f"Checking {data_dir} against {manifest.path} ({len(manifest.files())} files)")
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for problem in errors + warnings:
        print(f"  {problem}")
    # Missing optional files are normal (Kaggle sets need a login): one line per dataset.
    absent: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if problem.severity == "note":
            absent[manifest.file(problem.path).dataset].append(problem.path)
    for name, paths in absent.items():
        dataset = manifest.dataset(name)
        if len(paths) == 1:
            how = manifest.file(paths[0]).fix(data_dir)
        elif dataset.downloadable:
            how = f"run `moviebot data fetch --only {name}`"
        else:
            how = f"download from {dataset.source}"
        print(f"  note: optional dataset {name} not present ({len(paths)} file"
              f"{'s' * (len(paths) > 1)}); {how}")
    bad = {p.path for p in problems}
    ok = 0 if not data_dir.is_dir() else sum(
        1 for f in manifest.files() if f.path not in bad and (data_dir / f.path).is_file())
    print(f"{ok} file(s) OK, {len(errors)} error(s), {len(warnings)} warning(s), "
          f"{sum(map(len, absent.values()))} optional file(s) absent")
    return 1 if errors else 0


def run_fetch(args: argparse.Namespace) -> int:
    import os

    from engine.cli_args import settings_from
    from engine.datasets.manifest import load_manifest

    from .fetch import fetch

    data_dir = Path(settings_from(args).data_dir)  # --data-dir arrives as a str
    manifest = load_manifest(args.manifest)
    source = f"the mirror {args.mirror}" if args.mirror else "the official sources"
    print(f"Fetching into {data_dir} from {source}")
    outcomes = fetch(data_dir, manifest=manifest, only=args.only, mirror=args.mirror,
                     strict=args.strict, progress=not args.no_progress, timeout=args.timeout)
    manual = [o for o in outcomes if o.status == "manual"]
    for outcome in outcomes:
        if outcome.status != "manual":
            stream = sys.stderr if outcome.severity == "error" else sys.stdout
            print(f"  {outcome}", file=stream)
    if manual:
        print("\nThese need a (free) Kaggle login, so download them by hand:")
        shown = set()
        for outcome in manual:
            entry = manifest.file(outcome.path)
            if entry.dataset not in shown:
                shown.add(entry.dataset)
                print(f"  {entry.dataset}: {entry.source}")
            print(f"      save {outcome.path.rsplit('/', 1)[-1]} as {data_dir / outcome.path}")
        print("  (with the Kaggle CLI: `kaggle datasets download -d <owner>/<name>` and unzip.)")
        if not os.environ.get("TMDB_API_KEY"):
            print("Without them the catalog has fewer overviews, posters and cast lists. Setting "
                  "TMDB_API_KEY (a free key from https://www.themoviedb.org/settings/api) lets "
                  "the bots fill posters, cast and trailers live from the TMDB API instead.")
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return 1 if any(o.severity == "error" for o in outcomes) else 0


def run_report(args: argparse.Namespace) -> int:
    from engine.cli_args import settings_from

    try:
        from engine.datasets.report import coverage_report
    except ModuleNotFoundError as exc:
        if exc.name != "engine.datasets.report":
            raise
        print("moviebot: `data report` is not available in this version yet.", file=sys.stderr)
        return 1
    text = coverage_report(Path(settings_from(args).data_dir))
    if text:
        print(text)
    return 0
