"""Reading the raw files, and parsing the list-valued columns each source writes differently.

Every loader reads through `read_csv` / `read_dataset_file`, so a missing, unreadable or
re-encoded file always surfaces as a `DataError` that names the file and the fix.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import DataError

from .manifest import Manifest, load_manifest, read_header

log = logging.getLogger("moviebot.data")

DEFAULT_FIX = "run `moviebot data check` to see what is wrong, then `moviebot data fetch`"


def read_csv(path: str | Path, *, columns: Sequence[str] | None = None,
             encoding: str = "utf-8", sep: str = ",", fix: str | None = None,
             **pandas_kwargs: Any) -> pd.DataFrame:
    """`pandas.read_csv` with errors a user can act on.

    ``columns`` are the columns the caller needs; if any is missing the error lists them.
    Only empty fields are missing values: a track called "NA" or "None" stays a string.
    A UTF-8 BOM and CRLF line endings are handled. A file whose last record was cut off
    inside a quoted field (as in the TMDB v11 subset) is read with that record as it is.
    """
    path = Path(path)
    fix = fix or DEFAULT_FIX
    if not path.is_file():
        raise DataError(str(path), "file not found", fix)
    if _is_utf8(encoding):
        encoding = "utf-8-sig"  # drops a BOM if there is one
    if columns:
        header_kwargs = pandas_kwargs.get("header", "infer")
        if header_kwargs is not None:
            found = read_header(path, encoding, sep)
            missing = [c for c in columns if c not in found]
            if missing:
                raise DataError(str(path), f"missing column(s) {', '.join(missing)} "
                                f"(header has: {', '.join(found) or 'nothing'})", fix)
    pandas_kwargs.setdefault("keep_default_na", False)
    pandas_kwargs.setdefault("na_values", [""])
    try:
        return pd.read_csv(path, sep=sep, encoding=encoding, **pandas_kwargs)
    except UnicodeDecodeError:
        name = encoding.removesuffix("-sig")
        raise DataError(str(path), f"is not valid {name.upper()} ({_first_bad_byte(path, name)})",
                        f"use the original {name} file: {fix}") from None
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "file is empty", fix) from None
    except pd.errors.ParserError as exc:
        if "EOF inside string" not in str(exc):
            raise DataError(str(path), f"cannot be parsed as CSV ({exc})", fix) from None
    log.warning("%s: the last record is cut off inside a quoted field; reading it as it is", path)
    text = path.read_text(encoding=encoding)
    return pd.read_csv(io.StringIO(text + '"'), sep=sep, **pandas_kwargs)


def read_dataset_file(data_dir: str | Path, rel_path: str, *,
                      usecols: Sequence[str] | None = None, manifest: Manifest | None = None,
                      **pandas_kwargs: Any) -> pd.DataFrame:
    """Read a manifest file with its encoding, delimiter and field names.

    Files without a header row (the ml-100k ``u.*`` files) get the manifest's field names.
    """
    entry = (manifest or load_manifest()).file(rel_path)
    kwargs: dict[str, Any] = {}
    if entry.format == "delimited":
        # no header row and no quoting: u.item titles contain bare quote characters
        kwargs.update(header=None, names=list(entry.fields), quoting=csv.QUOTE_NONE)
    if usecols is not None:
        kwargs["usecols"] = list(usecols)
    kwargs.update(pandas_kwargs)
    columns = usecols if entry.format == "csv" else None
    return read_csv(Path(data_dir) / rel_path, columns=columns, encoding=entry.encoding,
                    sep=entry.sep, fix=entry.fix(), **kwargs)


def _first_bad_byte(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line}"
    return "undecodable bytes"


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


# -- list-valued columns -----------------------------------------------------------------

def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _names(items: Any, key: str) -> list[str]:
    if isinstance(items, dict):  # e.g. belongs_to_collection is a single object
        items = [items]
    if not isinstance(items, list | tuple):
        return [str(items).strip()] if str(items).strip() else []
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get(key)
        if item is not None and str(item).strip():
            out.append(str(item).strip())
    return out


def parse_json_list(value: Any, key: str = "name") -> list[str]:
    """'[{"id": 28, "name": "Action"}]' (tmdb_5000) -> ["Action"]."""
    if is_missing(value):
        return []
    try:
        return _names(json.loads(value), key)
    except (TypeError, ValueError):
        return parse_python_list(value, key)


def parse_python_list(value: Any, key: str = "name") -> list[str]:
    """"[{'id': 16, 'name': 'Animation'}]" (The Movies Dataset) -> ["Animation"].

    Falls back to `parse_quoted_list` for lists that are not valid Python literals.
    """
    if is_missing(value):
        return []
    try:
        return _names(ast.literal_eval(str(value).strip()), key)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return parse_quoted_list(value)


def split_list(value: Any, sep: str = "|") -> list[str]:
    """"Action|Drama" -> ["Action", "Drama"]; "Drama, Crime" with sep="," -> ["Drama", "Crime"]."""
    if is_missing(value):
        return []
    return [part.strip() for part in str(value).split(sep) if part.strip()]


# an item boundary: a closing quote, comma, space, opening quote ("', '" or with double quotes)
_QUOTED_BOUNDARY = re.compile(r"""['"], ['"]""")


def parse_quoted_list(value: Any) -> list[str]:
    """"['You've Got a Friend', 'Strange Things']" -> ["You've Got a Friend", "Strange Things"].

    The soundtrack file writes lists like Python but leaves apostrophes inside items
    unescaped, so `ast.literal_eval` fails on them; the item boundaries are still
    unambiguous, so split on those.
    """
    if is_missing(value):
        return []
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if not text:
        return []
    if len(text) >= 2 and text[0] in "'\"" and text[-1] in "'\"":
        text = text[1:-1]
    return [item for item in (p.strip() for p in _QUOTED_BOUNDARY.split(text)) if item]


def year_from_date(value: Any) -> int | None:
    """The year of "1999", "1999-03" or "1999-03-31" (album release dates come in all three)."""
    if is_missing(value):
        return None
    match = _YEAR.match(str(value))
    if not match:
        return None
    year = int(match.group(1))
    return year if 1800 <= year <= 2100 else None


_YEAR = re.compile(r"\s*(\d{4})(?:$|[-/\s])")


def years_from_dates(values: pd.Series) -> pd.Series:
    """Vectorised `year_from_date`: an Int64 series with <NA> where there is no usable year."""
    years = pd.to_numeric(values.astype("string").str.extract(r"^\s*(\d{4})(?:$|[-/\s])",
                                                             expand=False), errors="coerce")
    years = years.where((years >= 1800) & (years <= 2100))
    return years.astype("Int64")
