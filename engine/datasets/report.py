"""`moviebot data report`: how much of the catalog each field and source covers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from . import hygiene
from .catalog_build import FIELDS, _is_empty, build_catalog

# The repairs of the catalog build, in the words of the report, with the audit count
# that measures each (`hygiene.audit`).
REPAIRS = [
    ("mojibake_pattern_movies", "movies matching Ã/Å/â€/Ä (literal; real names like Åmål stay)"),
    ("mojibake_movies", "movies with garbled text (ftfy detector + mid-word signature)"),
    ("ftfy_would_change_movies", "movies where ftfy would still fix an encoding"),
    ("html_entity_movies", "movies with HTML entities (&amp;) in text"),
    ("not_nfc_movies", "movies with text not in Unicode NFC"),
    ("people_with_several_spellings", "people spelled more than one way"),
    ("non_genre_movies", "movies with a non-genre (IMAX, TV Movie, Foreign)"),
    ("production_tag_movies", "movies with production tags as keywords"),
    ("production_tags", "production tags among keywords"),
    ("cut_off_titles", "cut-off titles (\"Birdman: Or\")"),
    ("cast_names", "cast names (more = lists completed across sources)"),
]


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


def repair_rows(before, after) -> list[tuple[str, int, int]]:
    """(repair, count in the catalog built without hygiene, count with it)."""
    audit_before, audit_after = hygiene.audit(before), hygiene.audit(after)
    return [(label, audit_before.get(key, 0), audit_after.get(key, 0)) for key, label in REPAIRS]


def coverage_report(data_dir: Path) -> str:
    catalog = build_catalog(Path(data_dir))
    raw = build_catalog(Path(data_dir), hygiene=False)
    lines = [f"Catalog: {len(catalog):,} MovieLens movies from {data_dir}", "",
             "Text hygiene (catalog built without / with the repairs):",
             f"  {'repair':<66}{'before':>8}{'after':>8}"]
    for label, before, after in repair_rows(raw, catalog):
        lines.append(f"  {label:<66}{before:>8,}{after:>8,}")
    lines += ["", f"{'field':<18}{'movies':>8}{'share':>9}{'of ratings':>12}"]
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
