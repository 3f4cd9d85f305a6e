"""`moviebot catalog update`: new releases from TMDB, served without retraining.

    fetch   TMDB lists (now playing, upcoming, popular, trending), discover by release date
            (``--since``), the titles users asked for that were not found
            (``<artifacts>/pending_titles.jsonl``), then each film's details
            (``append_to_response=credits,keywords,videos``). Every answer is appended to a
            journal in ``<artifacts>/staging/catalog-update/`` as it arrives.
    merge   a film already in the catalog (same TMDB or IMDb id) has its live fields
            refreshed (votes, popularity, poster, trailer), with the source recorded in its
            ``sources``; any other film is added with ``movie_id = NEW_ID_BASE + tmdb_id``.
    publish a NEW version: the new catalog, each component's per-film files extended
            (engine/{content,collab,crossmedia}/extend.py: inference, transforms and
            content neighbours, no training), every other file hard-linked from the
            current version; manifest with every file's sha256; then the pointer moves and
            running bots hot-reload (engine/reload.py).

Identity: ``NEW_ID_BASE + tmdb_id``. MovieLens ids are below 300,000 in every release
(ml-32m's largest is 292,757) and TMDB's are below 10,000,000, so an added film's id can
never clash with a MovieLens one, and the same film always gets the same id (a rerun, or
a later update, finds it again instead of adding it twice).

Crash safety: the served version is never written to; a version directory is published
only once complete (a crash leaves an unpublished directory, removed by the next run).
Resumable: a rerun reads the journal and fetches only what is missing; the journal and
the pending titles are cleared only after the new version is published.

Text fields of films already in the catalog are not rewritten: their vectors were computed
from that text by the build. New films are embedded with the build's saved content
transforms (engine/content/foldin.py); a version built before those were saved is refused
before anything is fetched ("rebuild content first": `moviebot build --only content`).
A later full build (`moviebot build`, the rebuild-content job) keeps the films added here
(engine/datasets/catalog_build.py reads them from the version it replaces) and trains on
them like any other film.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import artifacts
from engine.catalog import CATALOG_FILE, CATALOG_INFO, TMDB_ID_BASE
from engine.errors import MovieBotError
from engine.tmdb import (
    LISTS,
    ROW_SOURCE,
    MalformedRecord,
    TMDBCatalogClient,
    TMDBUnavailable,
    catalog_row,
    filled,
)

from .runs import JobLock, JobResult, record_job_run

log = logging.getLogger("moviebot.catalog_update")

NEW_ID_BASE = TMDB_ID_BASE     # engine/catalog.py: a full build keeps these films too
STAGING = Path("staging") / "catalog-update"
PENDING_TITLES = artifacts.PENDING_TITLES
DEFAULT_LISTS = tuple(LISTS)
DEFAULT_PAGES = 10
JOB_NAME = "catalog-update"
# fields of a film already in the catalog that an update refreshes (live numbers and media)
REFRESHED = ("vote_average", "vote_count", "popularity", "poster_path", "youtube_id")
SOURCE = ROW_SOURCE


class NoApiKey(MovieBotError):
    def __str__(self) -> str:
        return ("catalog updates come from the TMDB API: set TMDB_API_KEY (a free key from "
                "https://www.themoviedb.org/settings/api) and run `moviebot catalog update` "
                "again. Without it the bots keep serving the built catalog as it is.")


@dataclass
class UpdateOptions:
    since: str | None = None              # discover films released on or after (YYYY-MM-DD)
    until: str | None = None
    pages: int = DEFAULT_PAGES            # pages per source (20 films a page)
    lists: tuple[str, ...] = DEFAULT_LISTS
    keep: int = 5                         # versions kept after publishing
    progress: bool = True
    concurrency: int = 4                  # detail requests in flight (the client paces them)
    seed: int = 42


@dataclass
class UpdateStats:
    listed: int = 0
    fetched: int = 0            # detail requests made by this run (not read from the journal)
    resumed: int = 0            # details already in the journal from an interrupted run
    added: int = 0
    refreshed: int = 0
    unchanged: int = 0
    malformed: int = 0
    not_found: int = 0
    pending: int = 0
    throttled: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- the journal ---------------------------------------------------------------------------
class Journal:
    """Append-only JSONL under ``<root>/staging/catalog-update/``: list pages and details.

    Each line is flushed and fsync'd before it counts, and a torn last line (a crash while
    writing it) is ignored on reading, so a rerun trusts exactly what was fully written.
    """

    def __init__(self, root: Path):
        self.dir = Path(root) / STAGING
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pages: dict[tuple[str, int], dict] = {}
        self.details: dict[int, dict] = {}
        for entry in self._read("pages.jsonl"):
            self.pages[(entry["source"], int(entry["page"]))] = entry
        for entry in self._read("details.jsonl"):
            self.details[int(entry["tmdb_id"])] = entry

    def _read(self, name: str) -> Iterable[dict]:
        path = self.dir / name
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("catalog update: ignoring a torn journal line in %s", path)
        return out

    def _append(self, name: str, entry: dict) -> dict:
        with (self.dir / name).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return entry

    def add_page(self, source: str, page: int, ids: list[int], total_pages: int) -> dict:
        entry = self._append("pages.jsonl", {"source": source, "page": page, "ids": ids,
                                             "total_pages": total_pages})
        self.pages[(source, page)] = entry
        return entry

    def add_detail(self, tmdb_id: int, status: str, record: dict | None, problem: str = "") -> None:
        self.details[tmdb_id] = self._append("details.jsonl", {
            "tmdb_id": tmdb_id, "status": status, "problem": problem, "record": record})

    # a version directory being written: removed by the next run if this one crashes
    def building(self, version: Path | None) -> None:
        marker = self.dir / "building.txt"
        if version is None:
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(version.name)

    def abandoned_version(self) -> str:
        marker = self.dir / "building.txt"
        return marker.read_text().strip() if marker.exists() else ""

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def read_pending(root: Path) -> tuple[list[dict], int]:
    """(titles users asked for that were not found, lines read): written by the bots
    (bot/ondemand.py), one JSON object a line, {"title", "tmdb_id" or null, "asked_at"};
    unreadable lines are skipped (and cleared with the others once the update is
    published). A film asked for several times (by several bot processes, or again after
    a restart) is listed once: by its TMDB id, else by its title."""
    path = Path(root) / PENDING_TITLES
    if not path.exists():
        return [], 0
    out, seen = [], set()
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for line in lines:
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(item, dict) or not (item.get("tmdb_id") or item.get("title")):
            continue
        tmdb_id = item.get("tmdb_id")
        key = (("id", tmdb_id) if isinstance(tmdb_id, int) and not isinstance(tmdb_id, bool)
               else ("title", " ".join(str(item.get("title") or "").casefold().split())))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out, len(lines)


def clear_pending(root: Path, seen: int) -> None:
    """Drop the first ``seen`` lines (the ones this update read); lines a bot appended
    meanwhile are kept for the next update."""
    path = Path(root) / PENDING_TITLES
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rest = [line for line in lines if line.strip()][seen:]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(rest), encoding="utf-8")
    os.replace(tmp, path)


# -- fetch -------------------------------------------------------------------------------
async def fetch(client: TMDBCatalogClient, journal: Journal, options: UpdateOptions,
                pending: list[dict], stats: UpdateStats) -> list[int]:
    """Every film to consider, in a stable order, with its details in the journal."""
    sources: list[tuple[str, Any]] = [(name, lambda p, n=name: client.list_page(n, p))
                                      for name in options.lists]
    if options.since:
        sources.append((f"discover:{options.since}..{options.until or ''}",
                        lambda p: client.discover_page(options.since, p, options.until)))
    wanted: dict[int, str] = {}
    for source, call in sources:
        page, total = 1, 1
        while page <= min(total, options.pages):
            entry = journal.pages.get((source, page))
            if entry is None:
                got = await call(page)
                entry = journal.add_page(source, page, got.ids, got.total_pages)
            for tmdb_id in entry["ids"]:
                wanted.setdefault(int(tmdb_id), source)
            total, page = int(entry["total_pages"]), page + 1
    for item in pending:
        if isinstance(item.get("tmdb_id"), int):
            wanted.setdefault(item["tmdb_id"], "asked")
            continue
        source = f"search:{item['title']}"
        entry = journal.pages.get((source, 1))
        if entry is None:
            found = await client.get_json("search/movie", {"query": str(item["title"])[:200]})
            ids = [r["id"] for r in (found or {}).get("results") or []
                   if isinstance(r, dict) and isinstance(r.get("id"), int)][:1]
            entry = journal.add_page(source, 1, ids, 1)
        for tmdb_id in entry["ids"]:
            wanted.setdefault(int(tmdb_id), "asked")
    stats.listed = len(wanted)
    todo = [i for i in wanted if i not in journal.details]
    stats.resumed = len(wanted) - len(todo)
    from tqdm import tqdm

    bar = tqdm(total=len(wanted), initial=stats.resumed, desc="catalog update", unit="film",
               file=sys.stderr, disable=not options.progress, dynamic_ncols=True)
    gate = asyncio.Semaphore(max(1, options.concurrency))

    async def one(tmdb_id: int) -> None:
        async with gate:
            record = await client.movie_details(tmdb_id)
        stats.fetched += 1
        if record is None:
            journal.add_detail(tmdb_id, "not_found", None)
        else:
            try:
                catalog_row(record)
                journal.add_detail(tmdb_id, "ok", record)
            except MalformedRecord as exc:
                journal.add_detail(tmdb_id, "malformed", None, str(exc))
        bar.update(1)

    try:
        async with asyncio.TaskGroup() as group:   # one failure cancels the rest
            for tmdb_id in todo:
                group.create_task(one(tmdb_id))
    except* TMDBUnavailable as group_error:
        raise group_error.exceptions[0] from None
    finally:
        bar.close()
        stats.throttled = client.throttled
    return list(wanted)


# -- merge -------------------------------------------------------------------------------
def merge(catalog: pd.DataFrame, rows: list[dict], today: str) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """(the whole new catalog, the added rows, films refreshed, films unchanged).

    Added rows go after the existing ones, in the order given; existing rows keep their
    order (every component's per-film arrays follow the catalog's)."""
    catalog = catalog.copy()
    by_tmdb = {int(t): i for i, t in zip(catalog.index, catalog["tmdb_id"], strict=True) if pd.notna(t)}
    by_imdb = {str(t): i for i, t in zip(catalog.index, catalog["imdb_id"], strict=True) if t}
    added, refreshed, unchanged, seen = [], 0, 0, set()
    for row in rows:
        if row["tmdb_id"] in seen:
            continue
        seen.add(row["tmdb_id"])
        at = by_tmdb.get(row["tmdb_id"])
        if at is None and row["imdb_id"]:
            at = by_imdb.get(row["imdb_id"])
        if at is None:
            added.append(row)
            continue
        changed = [k for k in REFRESHED if filled(row[k]) and not _same(catalog.at[at, k], row[k])]
        if not changed:
            unchanged += 1
            continue
        sources = json.loads(catalog.at[at, "sources"] or "{}")
        for key in changed:
            catalog.at[at, key] = row[key]
            sources[key] = f"{SOURCE}@{today}"
        catalog.at[at, "sources"] = json.dumps(sources, sort_keys=True)
        refreshed += 1
    new = pd.DataFrame(added, columns=[*catalog.columns, "release_date"]) if added else None
    if new is None:
        return catalog, catalog.iloc[0:0], refreshed, unchanged
    new = new.drop(columns=["release_date"])
    for column in catalog.columns:     # the built table's dtypes (Int64 years and ids, ...)
        new[column] = new[column].astype(catalog[column].dtype)
    merged = pd.concat([catalog, new], ignore_index=True)
    return merged, merged.iloc[len(catalog):].reset_index(drop=True), refreshed, unchanged


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, float) and isinstance(new, float):
        return (math.isnan(old) and math.isnan(new)) or abs(old - new) < 1e-9
    return old == new


def date_range(previous: dict, catalog: pd.DataFrame, rows: list[dict], today: str) -> dict:
    """catalog.json after an update: the years of the whole table, and the newest release
    date among the films TMDB gave (not after today: upcoming films are not out yet)."""
    years = catalog["year"].dropna()
    out = dict(previous)
    out["first_year"] = int(years.min()) if len(years) else None
    out["last_year"] = int(years.max()) if len(years) else None
    released = [r["release_date"] for r in rows if r.get("release_date") and r["release_date"] <= today]
    newest = max([d for d in (previous.get("last_date"), *released) if d], default=None)
    out["last_date"] = newest
    out["updated"] = today
    return out


# -- publish ------------------------------------------------------------------------------
def write_version(root: Path, prev: Path, catalog: pd.DataFrame, new: pd.DataFrame, span: dict,
                  record: dict, options: UpdateOptions, journal: Journal) -> Path:
    """A complete new version beside ``prev`` (never written to); not yet published."""
    manifest = copy.deepcopy(artifacts.read_manifest(prev))
    out = artifacts.new_version_dir(root)
    journal.building(out)
    catalog.to_parquet(out / CATALOG_FILE, index=False)
    (out / CATALOG_INFO).write_text(json.dumps(span, indent=1) + "\n")
    written = {CATALOG_FILE, CATALOG_INFO}
    components = manifest.get("components", {})
    if len(new):
        # the slow part after the fetch (the encoder's inference, Annoy rebuilds): one log
        # line per component, as `moviebot build` logs its stages
        log.info("catalog update: %d new films -> content vectors (no retraining)", len(new))
        started = time.perf_counter()
        if "content" in components:
            from engine.content.extend import FIT_CATALOG
            from engine.content.extend import extend as content_extend

            written.update(content_extend(prev, out, new, manifest))
            files = components["content"].setdefault("files", [])
            if f"content/{FIT_CATALOG}" not in files:
                files.append(f"content/{FIT_CATALOG}")
        record["seconds"]["content"] = round(time.perf_counter() - started, 2)
        log.info("catalog update: content done in %.1fs; collab vectors from content neighbours",
                 record["seconds"]["content"])
        started = time.perf_counter()
        if "collab" in components:
            from engine.collab.extend import extend as collab_extend

            written.update(collab_extend(prev, out, catalog, new["movie_id"].to_numpy(np.int64),
                                         seed=options.seed))
        record["seconds"]["collab"] = round(time.perf_counter() - started, 2)
        log.info("catalog update: collab done in %.1fs; cross-media vectors",
                 record["seconds"]["collab"])
        started = time.perf_counter()
        if "crossmedia" in components:
            from engine.crossmedia.extend import extend as crossmedia_extend

            written.update(crossmedia_extend(prev, out, new, seed=options.seed))
        record["seconds"]["crossmedia"] = round(time.perf_counter() - started, 2)
    # everything else is the previous version's file itself (a hard link: no copy, and a
    # published inode is never opened for writing)
    for path in sorted(prev.rglob("*")):
        rel = path.relative_to(prev).as_posix()
        if path.is_dir() or rel == artifacts.MANIFEST or rel in written:
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, out / rel)
        except OSError:
            shutil.copy2(path, out / rel)
    manifest["version"] = out.name
    manifest["created_at"] = datetime.now(UTC).isoformat()
    manifest.setdefault("updates", []).append({**record, "based_on": prev.name})
    catalog_entry = components.setdefault("catalog", {})
    catalog_entry.setdefault("metrics", {})["movies"] = len(catalog)
    catalog_entry["metrics"]["date_range"] = span
    manifest.setdefault("metrics", {}).setdefault("catalog", {})["movies"] = len(catalog)
    log.info("catalog update: checksumming %s", out.name)
    manifest["files"] = artifacts.file_checksums(out)
    artifacts.write_manifest(out, manifest)
    return out


# -- the job -------------------------------------------------------------------------------
async def update_catalog(root: Path, api_key: str, base_url: str,
                         options: UpdateOptions | None = None, *, store: Any = None,
                         client: TMDBCatalogClient | None = None,
                         lock: JobLock | None = None) -> JobResult:
    """Fetch, merge and publish; see the module docstring. ``NoApiKey`` without a key."""
    if not api_key:
        raise NoApiKey()
    options = options or UpdateOptions()
    root = Path(root)
    prev = artifacts.current_version(root)
    lock = lock or JobLock.for_artifacts(root)
    own_client = client is None
    client = client or TMDBCatalogClient(api_key, base_url=base_url)
    stats = UpdateStats()
    today = date.today().isoformat()
    started = time.perf_counter()
    try:
        with lock.hold(JOB_NAME):
            journal = Journal(root)
            if (abandoned := journal.abandoned_version()) and abandoned != prev.name:
                # a crash while writing it: never published, nothing points at it
                shutil.rmtree(root / abandoned, ignore_errors=True)
                journal.building(None)
            if "content" in artifacts.read_manifest(prev).get("components", {}):
                from engine.content.extend import RebuildContentFirst, missing_transforms

                # checked before any TMDB call: the content stage places new films with
                # the build's saved transforms, and an older version has none
                if missing := missing_transforms(prev):
                    result = JobResult(JOB_NAME, "failed", prev.name,
                                       reasons=[str(RebuildContentFirst(prev.name, missing))],
                                       details=stats.to_dict())
                    await record_job_run(store, result)
                    return result
            pending, pending_lines = read_pending(root)
            stats.pending = len(pending)
            try:
                ids = await fetch(client, journal, options, pending, stats)
            except TMDBUnavailable as exc:
                result = JobResult(JOB_NAME, "failed", prev.name, reasons=[
                    f"{exc}; nothing was published, and the {len(journal.details)} films "
                    "fetched so far are kept: run the update again to continue"],
                    details=stats.to_dict())
                await record_job_run(store, result)
                return result
            stats.seconds["fetch"] = round(time.perf_counter() - started, 2)
            rows = []
            for tmdb_id in ids:
                entry = journal.details.get(tmdb_id, {})
                if entry.get("status") == "ok":
                    rows.append(catalog_row(entry["record"], today))
                elif entry.get("status") == "malformed":
                    stats.malformed += 1
                elif entry.get("status") == "not_found":
                    stats.not_found += 1
            current = pd.read_parquet(prev / CATALOG_FILE)
            catalog, new, stats.refreshed, stats.unchanged = merge(current, rows, today)
            stats.added = len(new)
            if not stats.added and not stats.refreshed:
                journal.clear()
                clear_pending(root, pending_lines)
                result = JobResult(JOB_NAME, "unchanged", prev.name, reasons=[
                    f"TMDB listed {stats.listed} films: none new, none changed"],
                    details=stats.to_dict())
                await record_job_run(store, result)
                return result
            info_path = prev / CATALOG_INFO
            span = date_range(json.loads(info_path.read_text()) if info_path.exists() else {},
                              catalog, rows, today)
            record = {"source": "tmdb", "date": today, "since": options.since,
                      "pages": options.pages, "lists": list(options.lists),
                      "added": stats.added, "refreshed": stats.refreshed,
                      "malformed": stats.malformed, "not_found": stats.not_found,
                      "new_id_base": NEW_ID_BASE, "seconds": stats.seconds}
            phase = time.perf_counter()
            out = await asyncio.to_thread(write_version, root, prev, catalog, new, span, record,
                                          options, journal)
            stats.seconds["version"] = round(time.perf_counter() - phase, 2)
            if artifacts.current_version(root) != prev:
                shutil.rmtree(out, ignore_errors=True)
                journal.building(None)
                raise MovieBotError("another version was published while the update ran; "
                                    "run the update again (its fetched films are kept)")
            artifacts.publish(root, out)
            journal.building(None)
            artifacts.prune(root, keep=options.keep)
            journal.clear()
            clear_pending(root, pending_lines)
    finally:
        if own_client:
            await client.close()
    stats.seconds["total"] = round(time.perf_counter() - started, 2)
    result = JobResult(JOB_NAME, "published", out.name, out.name, reasons=[
        f"added {stats.added} films, refreshed {stats.refreshed} "
        f"({stats.malformed} malformed and {stats.not_found} unknown records skipped)"],
        details=stats.to_dict())
    log.info("catalog update: %s -> %s", result.reasons[0], out.name)
    await record_job_run(store, result)
    return result


async def run(settings: Any, store: Any = None, options: UpdateOptions | None = None) -> JobResult:
    """The scheduler's entry (jobs/scheduler.py): skipped, not failed, without a key."""
    if not settings.tmdb_api_key:
        result = JobResult(JOB_NAME, "skipped", reasons=[str(NoApiKey())])
        await record_job_run(store, result)
        return result
    return await update_catalog(Path(settings.artifacts), settings.tmdb_api_key,
                                settings.tmdb_api_base_url, options or UpdateOptions(progress=False),
                                store=store)
