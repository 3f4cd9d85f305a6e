"""`moviebot data fetch`: put the raw datasets into a data directory.

Downloads the openly downloadable files listed in data/manifest.json (or copies them from a
local mirror with the same layout), verifies each against its manifest sha256, and installs
it atomically, so an interrupted fetch never leaves a half-written file behind. Files already
present with the right checksum are skipped. The Kaggle-only sets cannot be downloaded
without a login; for those the outcome says where to get them.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from engine.datasets.manifest import (
    FileEntry,
    Manifest,
    check_file,
    load_manifest,
    resolve_inside,
    sha256_file,
)
from engine.errors import DataError

USER_AGENT = "moviebot-data-fetch/0.1"
_CHUNK = 1 << 16
# A host that does not answer within this many seconds is taken as unreachable: offline,
# `moviebot data fetch` (and so `make run`) fails in seconds, not minutes.
CONNECT_TIMEOUT = 10.0
# Errors that mean "cannot reach the host" (no network, DNS failure, refused, no route).
# They are not retried, and the other files from the same host are skipped.
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH,
                       errno.ENETDOWN, errno.EHOSTDOWN, errno.ETIMEDOUT}


class HostUnreachable(DataError):
    """The download's host could not be reached at all (as opposed to an HTTP error)."""


@dataclass(frozen=True)
class Outcome:
    path: str          # the file, relative to the data directory
    status: str        # fetched | copied | present | manual | missing | failed
    message: str = ""
    severity: str = "ok"   # ok | note | warning | error

    def __str__(self) -> str:
        text = f"{self.status:8} {self.path}"
        return f"{text}: {self.message}" if self.message else text


def fetch(data_dir: str | Path, *, manifest: Manifest | None = None,
          only: Iterable[str] | None = None, mirror: str | Path | None = None,
          strict: bool = False, progress: bool = True, timeout: float = 60.0,
          connect_timeout: float = CONNECT_TIMEOUT) -> list[Outcome]:
    """Fetch the datasets (all downloadable ones, or those named in ``only``).

    With ``mirror``, files are copied from that directory instead of downloaded. A checksum
    mismatch installs the file with a warning (it may be a newer upstream release), or with
    ``strict`` rejects it as an error. A host that cannot be reached (refused, no DNS, no
    answer within ``connect_timeout`` seconds) is tried once: its other files are skipped.
    """
    manifest = manifest or load_manifest()
    data_dir = Path(data_dir)
    if only:
        datasets = [manifest.dataset(name) for name in only]
    else:
        datasets = [d for d in manifest.datasets.values() if d.fetch_by_default or mirror]
    data_dir.mkdir(parents=True, exist_ok=True)
    fetcher = _Fetcher(data_dir, strict=strict, progress=progress, timeout=timeout,
                       connect_timeout=connect_timeout)
    outcomes: list[Outcome] = []
    for dataset in datasets:
        if mirror is not None:
            copied = (fetcher.copy(entry, Path(mirror)) for entry in dataset.files)
            outcomes += [o for o in copied if o is not None]
            continue
        by_url: dict[str, list[FileEntry]] = {}
        for entry in dataset.files:
            if entry.download:
                by_url.setdefault(entry.download.url, []).append(entry)
            elif outcome := fetcher.manual(entry):
                outcomes.append(outcome)
        for url, entries in by_url.items():
            outcomes += fetcher.download_group(url, entries)
    return outcomes


@dataclass
class _Fetcher:
    data_dir: Path
    strict: bool
    progress: bool
    timeout: float
    connect_timeout: float = CONNECT_TIMEOUT
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why

    def target(self, entry: FileEntry) -> Path:
        # Resolved and checked: a manifest path or a planted symlink must not lead outside.
        return resolve_inside(self.data_dir, entry.path)

    def is_present(self, entry: FileEntry) -> bool:
        path = self.target(entry)
        if not path.is_file():
            return False
        return entry.sha256 is None or sha256_file(path) == entry.sha256

    # -- the three ways a file arrives ---------------------------------------------------
    def manual(self, entry: FileEntry) -> Outcome | None:
        if entry.documentation:
            return None
        if self.target(entry).is_file():
            return Outcome(entry.path, "present")
        return Outcome(entry.path, "manual", entry.fix(self.data_dir),
                       severity="error" if entry.required else "note")

    def copy(self, entry: FileEntry, mirror: Path) -> Outcome | None:
        if self.is_present(entry):
            return Outcome(entry.path, "present")
        source = resolve_inside(mirror, entry.path, "mirror")
        if not source.is_file():
            if entry.documentation:
                return None
            return Outcome(entry.path, "missing", f"not in the mirror {mirror}",
                           severity="error" if entry.required else "note")
        with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".fetch-") as tmp:
            staged = Path(tmp) / "file"
            shutil.copyfile(source, staged)
            return self.install(entry, staged, "copied")

    def download_group(self, url: str, entries: list[FileEntry]) -> list[Outcome]:
        """Download one URL (a zip or a single file) and install the entries it holds."""
        needed = [e for e in entries if not self.is_present(e)]
        outcomes = [Outcome(e.path, "present") for e in entries if e not in needed]
        if not needed:
            return outcomes
        host = urllib.parse.urlsplit(url).netloc
        if host in self.unreachable:
            return outcomes + [Outcome(e.path, "failed", f"skipped: {self.unreachable[host]}",
                                       severity="error") for e in needed]
        with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".fetch-") as tmp:
            name = PurePosixPath(urllib.parse.urlsplit(url).path).name
            archive = Path(tmp) / (name if name not in ("", ".", "..") else "download")
            try:
                download(url, archive, progress=self.progress, timeout=self.timeout,
                         connect_timeout=self.connect_timeout)
            except DataError as exc:
                if isinstance(exc, HostUnreachable):
                    self.unreachable[host] = f"{host} is unreachable ({exc.problem})"
                return outcomes + [Outcome(e.path, "failed", f"{exc.problem}. Fix: {exc.fix}",
                                           severity="error") for e in needed]
            for entry in needed:
                member = entry.download.member if entry.download else None
                if member is None:
                    outcomes.append(self.install(entry, archive, "fetched"))
                    continue
                try:
                    staged = _extract(archive, member, Path(tmp) / f"member-{len(outcomes)}")
                except DataError as exc:
                    outcomes.append(Outcome(entry.path, "failed", exc.problem, severity="error"))
                    continue
                outcomes.append(self.install(entry, staged, "fetched"))
        return outcomes

    def install(self, entry: FileEntry, staged: Path, status: str) -> Outcome:
        """Verify a staged file and move it into place (atomically, same file system)."""
        # A file with the wrong columns or encoding would only fail later, in the build, and
        # must not replace a good copy: check the staged file under the entry's rules.
        layout = check_file(staged.parent, replace(entry, path=staged.name))
        broken = [p.message for p in layout if p.severity == "error"]
        if broken:
            return Outcome(entry.path, "failed", "; ".join(broken) + "; not installed",
                           severity="error")
        actual = sha256_file(staged)
        if entry.sha256 and actual != entry.sha256:
            note = (f"sha256 {actual[:12]}… differs from the manifest's {entry.sha256[:12]}… "
                    "(a newer upstream release, or a damaged download)")
            if self.strict:
                return Outcome(entry.path, "failed", note + "; not installed because of --strict",
                               severity="error")
            outcome = Outcome(entry.path, status, note, severity="warning")
        else:
            outcome = Outcome(entry.path, status)
        target = self.target(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return outcome


def download(url: str, dest: Path, *, progress: bool = True, timeout: float = 60.0,
             connect_timeout: float = CONNECT_TIMEOUT) -> Path:
    """Stream ``url`` to ``dest`` with a progress bar; raises DataError on any failure.

    Connecting may take ``connect_timeout`` seconds, each read ``timeout``. A host that cannot
    be reached raises HostUnreachable at once (no retries).
    """
    from tqdm import tqdm

    fix = ("check the network connection and try again, or copy the files from a local mirror "
           "with `moviebot data fetch --from DIR`")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    opener = _opener(connect_timeout)
    written = 0
    try:
        with opener.open(request, timeout=timeout) as response, dest.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress, leave=True) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DataError(url, f"download failed: HTTP {exc.code} {exc.reason}", fix) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if written == 0 and _is_unreachable(reason):
            raise HostUnreachable(url, f"cannot connect: {_describe(reason)}", fix) from None
        raise DataError(url, f"download failed: {reason}", fix) from None
    if total is not None and written != total:
        raise DataError(url, f"download incomplete: got {written} of {total} bytes", fix)
    return dest


def _is_unreachable(reason: object) -> bool:
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError, TimeoutError)):
        return True
    return isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNOS


def _describe(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return "name lookup failed, no network?"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer, no network?"
    return str(getattr(reason, "strerror", None) or reason)


def _opener(connect_timeout: float) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections give up after ``connect_timeout`` seconds, while reads
    keep the request's (longer) timeout. Proxies from the environment still apply."""

    class _Mixin:
        def do_open(self, http_class, req, **kwargs):
            class Connection(http_class):
                def connect(self):
                    read_timeout = self.timeout
                    if read_timeout is None or read_timeout > connect_timeout:
                        self.timeout = connect_timeout
                    try:
                        super().connect()
                    finally:
                        self.timeout = read_timeout
                    self.sock.settimeout(read_timeout)

            return super().do_open(Connection, req, **kwargs)

    class HTTP(_Mixin, urllib.request.HTTPHandler):
        pass

    class HTTPS(_Mixin, urllib.request.HTTPSHandler):
        pass

    return urllib.request.build_opener(HTTP, HTTPS)


def _extract(archive: Path, member: str, dest: Path) -> Path:
    """Copy one member out of a zip (by its path, or by file name if the top folder differs)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.startswith("__MACOSX/")]
            if member not in names:
                base = PurePosixPath(member).name
                matches = [n for n in names if PurePosixPath(n).name == base]
                if len(matches) != 1:
                    raise DataError(str(archive.name), f"the archive has no {member}",
                                    "the upstream archive changed; update data/manifest.json")
                member = matches[0]
            with zf.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
    except zipfile.BadZipFile:
        raise DataError(str(archive.name), "the download is not a valid zip file",
                        "try again later; the server may have sent an error page") from None
    return dest
