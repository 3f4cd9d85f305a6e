"""MovieLens title parsing: "Matrix, The (1999)" -> ("The Matrix", [aka...], 1999)."""

from __future__ import annotations

import re

# Articles MovieLens moves to the end ("Godfather, The"), in the languages it uses.
ARTICLES = ("The", "A", "An", "Les", "La", "Le", "L'", "Il", "El", "Los", "Las", "Die", "Der",
            "Das", "Det", "Den", "De", "Lo", "I", "O", "Os", "As", "Un", "Une", "Uno", "Una", "Ein",
            "Eine", "Gli", "Ta", "To")
_ARTICLE_RE = re.compile(r"^(?P<body>.+), (?P<art>" + "|".join(re.escape(a) for a in ARTICLES) + r")$")
_YEAR_RE = re.compile(r"\s*\((?P<year>\d{4})(?:[–-](?:\d{4})?)?\)\s*$")
_PAREN_RE = re.compile(r"\s*\((?P<inner>[^()]*)\)\s*$")
# A title that would end on "Or" or ":" is cut off: "Birdman: Or (The Unexpected Virtue of
# Ignorance)" is one title, not "Birdman: Or" also known as "The Unexpected Virtue...".
_DANGLING_RE = re.compile(r"(?:\b(?:or|and|of)|[:–-])\s*$", re.I)


def _front_article(title: str) -> str:
    """'Matrix, The' -> 'The Matrix'; "Homme, L'" -> "L'Homme"."""
    match = _ARTICLE_RE.match(title.strip())
    if not match:
        return title.strip()
    art = match["art"]
    return f"{art}{match['body']}" if art.endswith("'") else f"{art} {match['body']}"


def parse_ml_title(raw: str, full: bool = True) -> tuple[str, list[str], int | None]:
    """Split a MovieLens title into display title, alternative titles and year.

    ``full=False`` keeps the old reading that cuts "Birdman: Or (...)" short (for the
    before/after counts of `moviebot data report`)."""
    text = raw.strip()
    year = None
    match = _YEAR_RE.search(text)
    if match:
        year = int(match["year"])
        text = text[: match.start()]
    akas: list[str] = []
    # Trailing parentheses hold alternative titles: "(a.k.a. Se7en)", "(Léon)".
    while (paren := _PAREN_RE.search(text)) and paren.start() > 0:
        if full and _DANGLING_RE.search(text[: paren.start()]):
            break
        inner = paren["inner"].strip()
        inner = re.sub(r"^(a\.k\.a\.|aka)\s+", "", inner, flags=re.I)
        if inner:
            akas.insert(0, _front_article(inner))
        text = text[: paren.start()]
    return _front_article(text), akas, year
