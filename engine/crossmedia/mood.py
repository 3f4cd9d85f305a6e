"""Movie mood features: what a movie "feels like", from the catalog table alone.

Every feature is a number computed from catalog columns (see docs/ARCHITECTURE.md), so the
same function serves training, the build and tests. Poster colours need image bytes from
TMDB and are optional: without a fetcher they are simply absent, never faked.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Hand-set (valence, arousal) per MovieLens genre, both in [0, 1]. These are priors, not
# measurements: they encode the usual reading (comedies are light, horror is tense) and
# serve as the hand-defined baseline mapping and as features for the learned one.
# Documentary is a form, not a mood: neutral, so its keywords and overview say how one
# feels (read as calm, 0.30, documentaries filled the romantic/soft vibe corner).
GENRE_MOOD: dict[str, tuple[float, float]] = {
    "Action": (0.55, 0.90), "Adventure": (0.70, 0.80), "Animation": (0.80, 0.60),
    "Children": (0.85, 0.55), "Comedy": (0.85, 0.60), "Crime": (0.30, 0.70),
    "Documentary": (0.50, 0.50), "Drama": (0.35, 0.35), "Fantasy": (0.70, 0.60),
    "Film-Noir": (0.25, 0.45), "Horror": (0.10, 0.90), "IMAX": (0.60, 0.80),
    "Musical": (0.85, 0.65), "Mystery": (0.30, 0.55), "Romance": (0.75, 0.35),
    "Sci-Fi": (0.45, 0.75), "Thriller": (0.25, 0.85), "War": (0.15, 0.80),
    "Western": (0.45, 0.60),
}
GENRES = list(GENRE_MOOD)

# Keyword stems that shift the mood prior; TMDB keywords are short phrases ("dying and death").
KEYWORD_MOOD: dict[str, tuple[float, float]] = {
    "love": (0.3, -0.1), "romance": (0.3, -0.1), "friendship": (0.3, 0.0), "wedding": (0.3, 0.1),
    "christmas": (0.3, 0.0), "family": (0.2, -0.1), "musical": (0.3, 0.2), "dance": (0.3, 0.3),
    "party": (0.3, 0.4), "high school": (0.2, 0.2), "teenager": (0.1, 0.2), "road trip": (0.2, 0.2),
    "sport": (0.1, 0.3), "music": (0.2, 0.2), "singer": (0.1, 0.1), "band": (0.1, 0.3),
    "murder": (-0.4, 0.3), "death": (-0.4, 0.1), "dying": (-0.4, 0.0), "war": (-0.4, 0.3),
    "violence": (-0.3, 0.4), "revenge": (-0.3, 0.4), "serial killer": (-0.5, 0.4),
    "suicide": (-0.5, 0.0), "cancer": (-0.4, -0.1), "drug": (-0.2, 0.2), "prison": (-0.3, 0.1),
    "chase": (0.0, 0.4), "explosion": (0.0, 0.5), "fight": (-0.1, 0.4), "heist": (0.1, 0.4),
    "monster": (-0.2, 0.4), "ghost": (-0.3, 0.3), "zombie": (-0.3, 0.5), "nightmare": (-0.4, 0.4),
    "loneliness": (-0.3, -0.3), "grief": (-0.4, -0.2), "melancholy": (-0.3, -0.3),
}

MOOD_COLUMNS = [
    "sent_compound", "sent_pos", "sent_neg", "prior_valence", "prior_arousal", "kw_valence",
    "kw_arousal", "runtime_z", "short", "long", "year_z", "pop_log", "votes_log",
    "ratings_log", "vote_avg", "has_text",
] + [f"decade_{d}" for d in range(1930, 2030, 10)] + [f"g_{g}" for g in GENRES]


def _as_list(value) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(v) for v in value]


def genre_prior(genres: Iterable[str]) -> tuple[float, float]:
    """Mean (valence, arousal) of the known genres; neutral (0.5, 0.5) without any."""
    moods = [GENRE_MOOD[g] for g in genres if g in GENRE_MOOD]
    if not moods:
        return 0.5, 0.5
    val, aro = zip(*moods, strict=True)
    return float(np.mean(val)), float(np.mean(aro))


def keyword_shift(keywords: Iterable[str]) -> tuple[float, float]:
    """Mean shift over keywords that contain a known stem (0, 0 when none do)."""
    shifts = [shift for kw in keywords for stem, shift in KEYWORD_MOOD.items() if stem in kw.lower()]
    if not shifts:
        return 0.0, 0.0
    val, aro = zip(*shifts, strict=True)
    return float(np.mean(val)), float(np.mean(aro))


def movie_mood_features(catalog: pd.DataFrame) -> pd.DataFrame:
    """One row per movie_id, the MOOD_COLUMNS as floats (no NaN)."""
    import pandas as pd
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    rows = []
    for row in catalog.itertuples(index=False):
        text = " ".join(t for t in (getattr(row, "tagline", "") or "", row.overview or "") if t)
        sent = vader.polarity_scores(text) if text else {"compound": 0.0, "pos": 0.0, "neg": 0.0}
        genres = _as_list(row.genres)
        val, aro = genre_prior(genres)
        kv, ka = keyword_shift(_as_list(row.keywords))
        rows.append((sent["compound"], sent["pos"], sent["neg"], val, aro, kv, ka,
                     float(row.runtime) if row.runtime == row.runtime else np.nan,
                     float(row.year) if pd.notna(row.year) else np.nan,
                     row.popularity, row.vote_count, row.rating_count, row.vote_average,
                     float(bool(text)), genres))
    raw = pd.DataFrame(rows, columns=[
        "sent_compound", "sent_pos", "sent_neg", "prior_valence", "prior_arousal", "kw_valence",
        "kw_arousal", "runtime", "year", "popularity", "vote_count", "rating_count",
        "vote_average", "has_text", "genres"])
    out = raw[["sent_compound", "sent_pos", "sent_neg", "prior_valence", "prior_arousal",
               "kw_valence", "kw_arousal", "has_text"]].astype(float).copy()
    runtime = raw["runtime"].astype(float).where(lambda r: r > 0)
    runtime = runtime.fillna(runtime.median() if runtime.notna().any() else 100.0)
    # fixed scales (not fitted), so one movie's features never depend on the rest of the table
    out["runtime_z"] = ((runtime - 105.0) / 25.0).clip(-3, 3)
    out["short"] = (runtime < 90).astype(float)
    out["long"] = (runtime > 140).astype(float)
    year = raw["year"].astype(float).fillna(1995.0)
    out["year_z"] = (year - 1995.0) / 20.0
    out["pop_log"] = np.log1p(raw["popularity"].astype(float).fillna(0).clip(lower=0)) / 4.0
    out["votes_log"] = np.log1p(raw["vote_count"].astype(float).fillna(0).clip(lower=0)) / 9.0
    out["ratings_log"] = np.log1p(raw["rating_count"].astype(float).fillna(0)) / 6.0
    out["vote_avg"] = (raw["vote_average"].astype(float).fillna(6.0) - 6.0) / 1.5
    for decade in range(1930, 2030, 10):
        lo = -np.inf if decade == 1930 else decade
        out[f"decade_{decade}"] = ((year >= lo) & (year < decade + 10)).astype(float)
    for genre in GENRES:
        out[f"g_{genre}"] = raw["genres"].map(lambda gs, g=genre: float(g in gs))
    out.index = pd.Index(catalog["movie_id"].astype(int).to_numpy(), name="movie_id")
    return out[MOOD_COLUMNS]


# -- optional poster colours ----------------------------------------------------------------
POSTER_COLUMNS = ["poster_brightness", "poster_saturation", "poster_warmth"]


def poster_colour_stats(image_bytes: bytes) -> tuple[float, float, float]:
    """(brightness, saturation, warmth) in [0, 1] of a poster image."""
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as img:
        small = img.convert("RGB").resize((64, 96))
        hsv = np.asarray(small.convert("HSV"), dtype=float) / 255.0
        rgb = np.asarray(small, dtype=float) / 255.0
    warmth = float(np.clip(0.5 + (rgb[..., 0] - rgb[..., 2]).mean(), 0, 1))
    return float(hsv[..., 2].mean()), float(hsv[..., 1].mean()), warmth


def poster_features(catalog: pd.DataFrame,
                    fetch: Callable[[str], bytes | None] | None) -> pd.DataFrame | None:
    """Poster colour stats for movies whose poster ``fetch(poster_path)`` returns.

    ``fetch`` is the TMDB client's image download; with none (offline, no API key) this
    returns None and the caller leaves the poster features out entirely.
    """
    import pandas as pd

    if fetch is None:
        return None
    rows = {}
    for movie_id, path in zip(catalog["movie_id"], catalog["poster_path"], strict=True):
        data = fetch(path) if path else None
        if data:
            rows[int(movie_id)] = poster_colour_stats(data)
    if not rows:
        return None
    return pd.DataFrame.from_dict(rows, orient="index", columns=POSTER_COLUMNS)
