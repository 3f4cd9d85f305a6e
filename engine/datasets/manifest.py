"""The data manifest (`data/manifest.json`) and the `moviebot data check` validation.

The manifest is the single list of raw files moviebot knows. Loaders, the build (which records
each file's checksum), `data check` and `data fetch` all read it, so adding a dataset means
adding it there once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import DataError, InvalidInput

# engine/datasets/manifest.py -> the checkout (not engine.config: that module reads this one)
MANIFEST_PATH = Path(__file__).resolve().parents[2] / "data" / "manifest.json"
# Index columns that pandas/R writers add without a real name; never "unexpected".
_INDEX_COLUMNS = {"", "Unnamed: 0"}


@dataclass(frozen=True)
class Download:
    url: str
    member: str | None = None  # path inside the zip at `url`; None when the URL is the file itself


@dataclass(frozen=True)
class FileEntry:
    path: str                      # relative to the data directory
    dataset: str
    format: str                    # "csv" (header row), "delimited" (no header), "text"
    encoding: str = "utf-8"
    columns: tuple[str, ...] = ()  # csv: the header (any order)
    sep: str = ","
    fields: tuple[str, ...] = ()   # delimited: the field names, in order
    rows: int | None = None
    sha256: str | None = None
    required: bool = False
    download: Download | None = None
    note: str = ""
    source: str = ""               # the dataset's official page
    fetch_by_default: bool = True
    documentation: bool = False    # a README kept beside the data; nothing reads it

    def fix(self, data_dir: str | Path | None = None) -> str:
        """What to tell a user whose copy of this file is missing or broken."""
        if self.download:
            only = "" if self.fetch_by_default else f" --only {self.dataset}"
            return f"run `moviebot data fetch{only}` or download it from {self.download.url}"
        where = Path(data_dir) / self.path if data_dir else f"<data dir>/{self.path}"
        return f"download it from {self.source} and save it as {where}"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    source: str
    licence: str
    files: tuple[FileEntry, ...]
    fetch_by_default: bool = True  # False: large optional sets, fetched only with --only

    @property
    def downloadable(self) -> tuple[FileEntry, ...]:
        return tuple(f for f in self.files if f.download)


@dataclass
class Manifest:
    datasets: dict[str, Dataset]
    path: Path | None = None

    def files(self) -> list[FileEntry]:
        return [f for d in self.datasets.values() for f in d.files]

    def file(self, path: str) -> FileEntry:
        for entry in self.files():
            if entry.path == path:
                return entry
        raise DataError(path, "this file is not in the data manifest",
                        f"add it to {self.path or MANIFEST_PATH}")

    def dataset(self, name: str) -> Dataset:
        if name not in self.datasets:
            raise InvalidInput(f"There is no dataset called “{name}”. "
                               f"Choose from: {', '.join(self.datasets)}.")
        return self.datasets[name]


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read the manifest; MOVIEBOT_DATA_MANIFEST points at another one (e.g. a mirror's)."""
    path = Path(path or os.environ.get("MOVIEBOT_DATA_MANIFEST") or MANIFEST_PATH)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(str(path), "the data manifest is missing",
                        "run moviebot from a checkout of the repository, or set "
                        "MOVIEBOT_DATA_MANIFEST to a copy of data/manifest.json") from None
    except json.JSONDecodeError as exc:
        raise DataError(str(path), f"the data manifest is not valid JSON ({exc})",
                        "restore it with `git checkout data/manifest.json`") from None
    datasets = {}
    for d in raw["datasets"]:
        files = tuple(_file_entry(f, d) for f in d["files"])
        datasets[d["name"]] = Dataset(name=d["name"], title=d.get("title", d["name"]),
                                      source=d.get("source", ""), licence=d.get("licence", ""),
                                      files=files,
                                      fetch_by_default=d.get("fetch_by_default", True))
    return Manifest(datasets, path)


def safe_relative(path: str, where: str) -> str:
    """``path`` if it is a plain relative path (no ``..``, not absolute, no drive or
    backslash tricks); a manifest naming anything else could read or write outside the
    data directory (`moviebot data fetch` with a crafted --manifest)."""
    parts = PurePosixPath(path).parts if isinstance(path, str) else ()
    if (not parts or "\\" in path or "\0" in path or PurePosixPath(path).is_absolute()
            or ".." in parts or ":" in parts[0]):
        raise DataError(where, f"the manifest names the file {str(path)[:120]!r}, which is not "
                        "a path inside the data directory (absolute, or with ..)",
                        "fix the manifest: every file path is relative to the data directory")
    return path


def resolve_inside(root: str | Path, relative: str, what: str = "data directory") -> Path:
    """``root / relative`` with symlinks resolved, refused (DataError) unless it stays
    inside ``root``: a symlink planted in the data directory or a mirror must not lead a
    fetch to read or write elsewhere."""
    base = Path(root).resolve()
    target = (base / safe_relative(relative, str(root))).resolve()
    if target != base and base not in target.parents:
        raise DataError(str(Path(root) / relative), f"leads outside the {what} "
                        f"(to {target}), through a symlink", f"remove that symlink from {root}")
    return target


def _file_entry(f: dict, d: dict) -> FileEntry:
    dl = f.get("download")
    return FileEntry(path=safe_relative(f["path"], f"data manifest, dataset {d.get('name')}"), dataset=d["name"], format=f.get("format", "csv"),
                     encoding=f.get("encoding", "utf-8"), columns=tuple(f.get("columns", ())),
                     sep=f.get("sep", ","), fields=tuple(f.get("fields", ())),
                     rows=f.get("rows"), sha256=f.get("sha256"),
                     required=bool(f.get("required", False)),
                     download=Download(dl["url"], dl.get("member")) if dl else None,
                     note=f.get("note", ""), source=d.get("source", ""),
                     fetch_by_default=d.get("fetch_by_default", True),
                     documentation=bool(f.get("documentation", False)))


# -- checking a data directory -----------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    path: str      # the file, relative to the data directory
    message: str
    fix: str = ""
    severity: str = "error"   # "error" (the build would fail), "warning", or "note"

    def __str__(self) -> str:
        text = f"{self.severity}: {self.path}: {self.message}"
        return f"{text}. Fix: {self.fix}" if self.fix else text


@dataclass
class _Scan:
    size: int = 0
    first_line: bytes = b""
    sha256: str | None = None
    utf8_error: str | None = None   # where the bytes stop being valid UTF-8, if they do
    non_ascii: bool = False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_header(path: Path, encoding: str = "utf-8", sep: str = ",") -> list[str]:
    """The first record's fields, whatever the line ending and with any UTF-8 BOM removed."""
    with Path(path).open("rb") as fh:
        line = fh.readline()
    return _split_header(line, encoding, sep)


def _split_header(line: bytes, encoding: str, sep: str) -> list[str]:
    text = line.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8")
                       else encoding, errors="replace")
    text = text.lstrip("\ufeff").rstrip("\r\n")
    if not text:
        return []
    return next(csv.reader([text], delimiter=sep))


def _scan(path: Path, checksum: bool) -> _Scan:
    """One pass over the file: size, checksum, and where (if anywhere) it stops being UTF-8."""
    scan = _Scan()
    digest = hashlib.sha256() if checksum else None
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        scan.first_line = fh.readline()
        fh.seek(0)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if digest:
                digest.update(chunk)
            scan.non_ascii = scan.non_ascii or not chunk.isascii()
            if scan.utf8_error is None:
                pending = len(decoder.getstate()[0])  # bytes of a character split by the chunk
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    scan.utf8_error = _describe_decode_error(path, scan.size - pending + exc.start)
            scan.size += len(chunk)
    if scan.utf8_error is None and decoder.getstate()[0]:
        scan.utf8_error = _describe_decode_error(path, scan.size - len(decoder.getstate()[0]))
    scan.sha256 = digest.hexdigest() if digest else None
    return scan


def _describe_decode_error(path: Path, position: int) -> str:
    with path.open("rb") as fh:
        head = fh.read(position + 1)
    line = head.count(b"\n") + 1
    return f"byte 0x{head[-1]:02x} at offset {position} (line {line})"


def check_file(data_dir: Path, entry: FileEntry, verify_checksums: bool = False) -> list[Problem]:
    path = Path(data_dir) / entry.path
    if not path.is_file():
        if entry.documentation:
            return []
        if entry.required:
            return [Problem(entry.path, "required file is missing", entry.fix(data_dir))]
        return [Problem(entry.path, f"optional file not present (dataset {entry.dataset})",
                        entry.fix(data_dir), severity="note")]
    try:
        scan = _scan(path, verify_checksums)
    except OSError as exc:
        return [Problem(entry.path, f"cannot be read ({exc.strerror or exc})", entry.fix(data_dir))]
    if scan.size == 0:
        return [Problem(entry.path, "file is empty", entry.fix(data_dir))]
    problems = []
    expected = entry.encoding
    utf8_expected = codecs.lookup(expected).name == "utf-8"
    if utf8_expected and scan.utf8_error:
        problems.append(Problem(
            entry.path, f"is not valid {expected.upper()}: {scan.utf8_error}",
            f"save it as {expected.upper()} (it looks re-encoded, e.g. by a spreadsheet), or "
            + entry.fix(data_dir)))
    elif not utf8_expected and scan.utf8_error is None and scan.non_ascii:
        # The original is Latin-1; a valid UTF-8 copy with accents was converted by someone,
        # and reading it as Latin-1 would turn "é" into "Ã©".
        problems.append(Problem(
            entry.path, f"looks UTF-8-encoded, but the original is {expected}",
            f"use the original {expected} file: " + entry.fix(data_dir)))
    problems += _check_layout(entry, scan.first_line, entry.fix(data_dir))
    if verify_checksums and entry.sha256 and scan.sha256 != entry.sha256:
        problems.append(Problem(
            entry.path, f"sha256 is {scan.sha256[:12]}…, the manifest expects {entry.sha256[:12]}…",
            "fine if you deliberately use a newer release; otherwise " + entry.fix(data_dir),
            severity="warning"))
    return problems


def _check_layout(entry: FileEntry, first_line: bytes, fix: str) -> list[Problem]:
    if entry.format == "csv" and entry.columns:
        found = _split_header(first_line, entry.encoding, entry.sep)
        missing = [c for c in entry.columns if c not in found]
        unexpected = [c for c in found if c not in entry.columns and c not in _INDEX_COLUMNS]
        problems = []
        if missing:
            problems.append(Problem(
                entry.path, f"missing column(s) {', '.join(missing)} "
                f"(header has: {', '.join(found) or 'nothing'})", fix))
        if unexpected:
            problems.append(Problem(
                entry.path, f"unexpected column(s) {', '.join(unexpected)}",
                "they are ignored; if this is a different file, " + fix,
                severity="error" if missing else "warning"))
        return problems
    if entry.format == "delimited" and entry.fields:
        # no quoting in these files (u.item titles contain bare quotes), so a plain split
        found = first_line.decode(entry.encoding, errors="replace").rstrip("\r\n").split(entry.sep)
        if len(found) != len(entry.fields):
            sep = "tab" if entry.sep == "\t" else repr(entry.sep)
            return [Problem(
                entry.path, f"expected {len(entry.fields)} {sep}-separated fields per line "
                f"({', '.join(entry.fields)}), the first line has {len(found)}", fix)]
    return []


def check_data_dir(data_dir: str | Path, verify_checksums: bool = False,
                   manifest: Manifest | None = None) -> list[Problem]:
    """Every problem with the data directory; an empty list means all files look right."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return [Problem(str(data_dir), "the data directory does not exist",
                        f"run `moviebot data fetch --data-dir {data_dir}`, or set "
                        "MOVIEBOT_DATA_DIR to the folder that holds movielens/, spotify/ ...")]
    manifest = manifest or load_manifest()
    problems = []
    for entry in manifest.files():
        problems += check_file(data_dir, entry, verify_checksums)
    return problems
