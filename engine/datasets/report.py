"""`moviebot data report`: how much of the catalog each field and source covers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .catalog_build import FIELDS, _is_empty, build_catalog


def coverage_rows(catalog) -> list[tuple[str, int, float, float]]:
    """(field, movies with a value, share of movies, share of ratings) per field."""
    weights = catalog["rating_count"].astype(float)
    total_ratings = max(weights.sum(), 1.0)
    rows = []
    for field in ["year", "genres", *FIELDS, "youtube_id"]:
        if field == "year":
            filled = catalog["year"].notna()
        elif field in ("genres",):
            filled = catalog[field].map(len) > 0
        elif field == "youtube_id":
            filled = catalog[field] != ""
        else:
            filled = ~_is_empty(catalog[field], field)
        rows.append((field, int(filled.sum()), float(filled.mean()),
                     float(weights[filled].sum() / total_ratings)))
    return rows


def source_counts(catalog) -> Counter:
    """How many fields each source supplied, over all movies."""
    counts: Counter = Counter()
    for sources in catalog["sources"]:
        counts.update(json.loads(sources).values())
    return counts


def coverage_report(data_dir: Path) -> str:
    catalog = build_catalog(Path(data_dir))
    lines = [f"Catalog: {len(catalog):,} MovieLens movies from {data_dir}", "",
             f"{'field':<18}{'movies':>8}{'share':>9}{'of ratings':>12}"]
    for field, count, share, rating_share in coverage_rows(catalog):
        lines.append(f"{field:<18}{count:>8,}{share:>8.1%}{rating_share:>12.1%}")
    lines += ["", "Field values supplied by each source:"]
    for source, count in source_counts(catalog).most_common():
        lines.append(f"  {source:<18}{count:>8,}")
    try:
        from .songs import load_songs

        songs = load_songs(data_dir)
        lines += ["", f"Songs: {len(songs):,} unique Spotify tracks "
                      f"({songs['genres'].map(len).gt(0).mean():.0%} with a playlist genre)"]
    except Exception as exc:  # the song sets are optional for the catalog
        lines += ["", f"Songs: not available ({exc})"]
    return "\n".join(lines)
