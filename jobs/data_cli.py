"""`moviebot data check | fetch | report`: get the raw data and make sure it is usable."""

from __future__ import annotations

import argparse
import os
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
    fetch.add_argument("--timeout", type=float, default=60.0,
                       help="network read timeout in seconds")
    fetch.add_argument("--connect-timeout", type=float, default=None, metavar="SECONDS",
                       help="give up on a host that does not answer within this time "
                            "(default 10); an unreachable host is not retried")
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
    if errors:
        from engine.cli_args import incomplete_data_help
        from engine.config import missing_required

        if not data_dir.is_dir() or missing_required(data_dir, manifest):
            print(incomplete_data_help(args, data_dir))
    return 1 if errors else 0


def run_fetch(args: argparse.Namespace) -> int:
    from engine.cli_args import settings_from
    from engine.datasets.manifest import load_manifest

    from .fetch import CONNECT_TIMEOUT, fetch

    data_dir = Path(settings_from(args).data_dir)  # --data-dir arrives as a str
    manifest = load_manifest(args.manifest)
    source = f"the mirror {args.mirror}" if args.mirror else "the official sources"
    print(f"Fetching into {data_dir} from {source}")
    outcomes = fetch(data_dir, manifest=manifest, only=args.only, mirror=args.mirror,
                     strict=args.strict, progress=not args.no_progress, timeout=args.timeout,
                     connect_timeout=args.connect_timeout or CONNECT_TIMEOUT)
    _print_details(outcomes, manifest, data_dir)
    lines, code = fetch_summary(outcomes, manifest, data_dir, only=args.only,
                                mirror=args.mirror)
    # The summary comes last (it is what `make run` ends on): on stderr when it fails.
    print("\n".join(lines), file=sys.stderr if code else sys.stdout)
    return code


def _print_details(outcomes, manifest, data_dir: Path) -> None:
    """Per-file lines for what changed; one line per dataset and cause for what failed."""
    failures: dict[tuple[str, str], list[str]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status in ("manual", "present"):
            continue
        if outcome.status in ("failed", "missing"):
            failures[(manifest.file(outcome.path).dataset, outcome.message)].append(outcome.path)
            continue
        stream = sys.stderr if outcome.severity == "error" else sys.stdout
        print(f"  {outcome}", file=stream)
    for (dataset, message), paths in failures.items():
        what = paths[0] if len(paths) == 1 else f"{dataset} ({len(paths)} files)"
        print(f"  failed   {what}: {message}", file=sys.stderr)
    manual = [o for o in outcomes if o.status == "manual"]
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


def fetch_summary(outcomes, manifest, data_dir: Path, *, only=None,
                  mirror=None) -> tuple[list[str], int]:
    """The closing summary of `data fetch` and its exit code.

    Required and missing (with the one thing that fixes it), optional and missing (one line),
    what succeeded. Exit code 1 when a required file is missing afterwards, or when a dataset
    named with --only failed; optional sets that could not be fetched are only reported.
    """
    datasets = [manifest.dataset(n) for n in only] if only else list(manifest.datasets.values())
    by_path = {o.path: o for o in outcomes}
    lines = [f"Summary for {data_dir}:"]
    required_missing = [f for d in datasets for f in d.files
                        if f.required and not (data_dir / f.path).is_file()]
    if required_missing:
        lines.append("  REQUIRED and missing: " + "; ".join(
            f"{name} ({', '.join(p.rsplit('/', 1)[-1] for p in paths)})"
            for name, paths in _group(required_missing).items()))
        causes = list(dict.fromkeys(by_path[f.path].message.split(". Fix:")[0]
                                    for f in required_missing
                                    if f.path in by_path and by_path[f.path].message))
        first_hand = [c for c in causes if not c.startswith("skipped: ")]
        for cause in (first_hand or causes)[:2]:
            lines.append(f"    because: {cause}")
        lines.append(f"    fix: {_fix_required(required_missing, manifest, data_dir, mirror)}")
    incomplete = {f.dataset for f in required_missing}
    optional_missing = _group([f for d in datasets for f in d.files
                               if (d.fetch_by_default or only) and d.name not in incomplete
                               and not f.required and not f.documentation
                               and not (data_dir / f.path).is_file()])
    if optional_missing:
        lines.append(f"  optional and missing ({len(optional_missing)} sets, the bot works "
                     f"without them): {', '.join(optional_missing)}")
    complete = [d.name for d in datasets
                if d.name not in optional_missing and d.name not in incomplete
                and any((data_dir / f.path).is_file() for f in d.files)]
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines.append(f"  succeeded: {', '.join(complete) or 'nothing'} ({tally})")
    failed_only = bool(only) and any(o.severity == "error" for o in outcomes)
    code = 1 if required_missing or failed_only else 0
    lines.append("Data is incomplete: `moviebot build` cannot run until the required files are "
                 "there." if required_missing else
                 "Some of the requested data could not be fetched." if failed_only else
                 "The required data is in place.")
    return lines, code


def _group(entries) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        grouped[entry.dataset].append(entry.path)
    return dict(grouped)


def _fix_required(missing, manifest, data_dir: Path, mirror) -> str:
    """The one command (or, for a file with no download, the URL) that fixes the gap."""
    urls = list(dict.fromkeys(f.download.url for f in missing if f.download))
    manual = [f for f in missing if not f.download]
    if manual:
        return manual[0].fix(data_dir)
    names = list(dict.fromkeys(f.dataset for f in missing))
    only = "".join(f" --only {n}" for n in names)
    again = (f"`moviebot data fetch --from {mirror}{only}` once the mirror has them" if mirror
             else f"`moviebot data fetch{only}` with network access")
    return (f"run {again} (or download {' and '.join(urls)} yourself, or point "
            "MOVIEBOT_DATA_DIR at a folder that already has the data)")


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
