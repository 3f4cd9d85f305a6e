"""Text hygiene for the catalog build: what a film lover would notice first.

* Mojibake ("Lasse HallstrÃ¶m") is repaired with ftfy, a maintained library made for it,
  then two leftovers ftfy leaves alone are repaired from the bytes themselves:
  - a single garbled letter ftfy judges too risky to touch ("Jonas Ã…kerlund"): when
    the two characters, written back as Windows-1252 bytes, are exactly one valid
    UTF-8 character, that character is what was meant ("Å");
  - a garbled letter whose second byte was lost on the way ("ToshirÅ Mifune": the byte
    0x8D has no Windows-1252 character, so the exporter dropped it). The lead byte says
    which block the letter was in; the lost byte is one of the five Windows-1252 leaves
    undefined (or a non-breaking space that got stripped). Which one is decided by the
    catalog's own clean names: the letter that occurs most often there ("ō" in
    Japanese names, "Á" in Spanish ones).
  No replacement table is written by hand: every repair decodes bytes.
* Unicode is normalised to NFC, HTML entities ("&amp;") are decoded, curly quotes and
  full-width CJK punctuation are left as they are (they are correct text).
* People: one spelling per person across all sources (`canonical_people`). No source
  here has TMDB/IMDb person ids, so names are matched by a key that ignores accents,
  case, hyphens and word order ("Joon-ho Bong" = "Bong Joon Ho"), and the spelling with
  diacritics wins ("Kieślowski" over "Kieslowski"), then the most used one.
* Genres come from closed vocabularies: IMAX is a format, "TV Movie" a medium, "Foreign"
  an old TMDB label for "not American"; none is a genre.
* Keywords: TMDB tags about the production rather than the film (`PRODUCTION_TAGS`)
  are dropped, so no "aftercreditsstinger" ever reaches a /similar reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import ftfy
from ftfy.badness import is_bad
from unidecode import unidecode

# ftfy's defaults would also straighten curly quotes and turn full-width CJK punctuation
# into ASCII: both are correct text, so they stay.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_character_width=False,
                             normalization="NFC", explain=False)

# MovieLens genres minus formats. (The film-lover reading: a genre says what kind of
# story it is; IMAX says which screen it was shown on.)
ML_GENRES = frozenset({
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western"})
# TMDB's movie genre list minus "TV Movie" (a medium) and the retired "Foreign" label.
TMDB_GENRES = frozenset({
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction",
    "Thriller", "War", "Western"})

# TMDB keywords that describe how a film was made or released, not what it is about.
# They are shown to people as "themes" in /similar reasons and make unrelated films look
# alike in TF-IDF (every Marvel film "shares" aftercreditsstinger), so they are dropped.
# Kept deliberately short: "based on novel", "sequel", "remake" do tell a fan something.
PRODUCTION_TAGS = frozenset({
    "aftercreditsstinger", "duringcreditsstinger", "post-credits scene",
    "mid-credits scene", "end credits scene", "stinger",
    "woman director", "female director", "independent film", "indie film",
    "3d", "imax",
})

# The patterns the issue counts, and the stricter signature of real mojibake: a lead
# character of a UTF-8 letter read as Windows-1252 where no language puts it (after a
# lower-case letter, "ToshirÅ"; "Ã" before a small letter or a space; "â€" anywhere; any
# lead and its continuation right after a small letter, "IureÈ™" for Iureș; a lone "Â"
# ending a text, a non-breaking space whose second byte was stripped as whitespace).
PATTERN_RE = re.compile("Ã|Å|â€|Ä")
# Characters whose Windows-1252 byte is a UTF-8 continuation byte (0x80..0xBF).
_CONT = "".join(sorted({bytes([b]).decode("windows-1252", errors="ignore") for b in range(0x80, 0xC0)}
                       | {chr(c) for c in range(0x80, 0xC0)}))
_C = re.escape(_CONT)
# The first two bytes of a 3-byte character worth repairing, read as Windows-1252:
# Vietnamese letters (U+1E00..1EFF, "á»") and typographic punctuation and symbols
# (U+2000..213F, "â€", "â„¢").
# Other 3-byte leads would turn real text ("ážš" in a Czech name) into Khmer or Hangul.
_LEAD3 = "á[¸¹º»]|â[€\x81‚ƒ„]"
_SIGNATURE_RE = re.compile(rf"[a-zà-ÿ][ÂÃÄÅ]|Ã(?=[a-z\s]|$)|â€|[ÂÃÄÅ][{_C}]|(?:{_LEAD3})[{_C}]"
                           rf"|[a-zà-ÿ][Â-Þ][{_C}]|(?<!\S)Â$")
# A whole garbled character: a 2-byte lead and its continuation, or a 3-byte one
# (only "á"/"â" leads: Vietnamese letters and typographic punctuation; "café…" stays).
_SEQUENCE_RE = re.compile(rf"(?:{_LEAD3})[{_C}]|[Â-ß][{_C}]")
# A garbled character that lost its last byte (see `_restore_lost`), only where the
# signature says so: "ToshirÅ", "Ãngel", "heartâ€.", "Kiá»u", "lawmanÂ", "infatuation Â".
_LOST_RE = re.compile(rf"(?<=[a-zà-ÿ])[ÂÃÄÅ](?![{_C}])|Ã(?=[a-z\s]|$)|(?:{_LEAD3})(?![{_C}])"
                      r"|(?<!\S)Â$")
_VIETNAMESE_RE = re.compile("[\u1ea0-\u1ef9ơưđ]")
_LOST_VI_RE = re.compile(r"(?<!\S)Ä(?=\S)")   # "Äan Phạm": Đ lost its byte
# Bytes Windows-1252 has no character for (an exporter drops them), and the
# non-breaking space (stripped as whitespace at the end of a name).
_LOST_BYTES = (0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xA0)


def looks_garbled(text: str) -> bool:
    """True for text with mojibake, and not for real names with Å/Ä ("Åmål", "Ängel")."""
    return bool(text) and (is_bad(text) or bool(_SIGNATURE_RE.search(text))
                           or bool(_VIETNAMESE_RE.search(text) and _LOST_VI_RE.search(text)))


def _cp1252(text: str) -> bytes | None:
    try:
        return text.encode("windows-1252")
    except UnicodeEncodeError:
        try:  # C1 controls that a lenient decoder kept as themselves
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return None


def _fix_sequences(text: str) -> str:
    """'Ã…' -> 'Å', 'á»—' -> 'ỗ': characters whose Windows-1252 bytes are one UTF-8 character."""
    def one(match: re.Match) -> str:
        raw = _cp1252(match[0])
        try:
            char = raw.decode("utf-8") if raw else ""
        except UnicodeDecodeError:
            return match[0]
        ok = len(char) == 1 and (char.isalpha() or unicodedata.category(char).startswith("P"))
        return char if ok else match[0]
    return _SEQUENCE_RE.sub(one, text)


def _restore_lost(text: str, counts: Counter | None) -> str:
    """'ToshirÅ Mifune' -> 'Toshirō Mifune': put back the byte the exporter dropped."""
    counts = counts or Counter()

    def one(match: re.Match) -> str:
        head = _cp1252(match[0])
        if head is None:
            return match[0]
        options = []
        for byte in _LOST_BYTES:
            try:
                char = (head + bytes([byte])).decode("utf-8")
            except UnicodeDecodeError:
                continue
            if char.isspace():
                options.append(" ")
            elif char.isalpha() or unicodedata.category(char).startswith("P"):
                options.append(char)
        if not options:
            return match[0]
        prev = text[match.start() - 1] if match.start() else " "
        if prev.islower():  # inside a word the lost letter is a small one ...
            options = [c for c in options if not c.isupper()] or options
        elif not prev.isalpha():  # ... and a name starts with a capital
            options = [c for c in options if not c.islower()] or options
        return max(options, key=lambda c: (counts[c], -options.index(c)))
    text = _LOST_RE.sub(one, text)
    if _VIETNAMESE_RE.search(text):
        text = _LOST_VI_RE.sub(one, text)
    return text


def fix_text(text: str, letter_counts: Counter | None = None) -> str:
    """Repaired, NFC-normalised text. Idempotent; clean text comes back unchanged."""
    if not isinstance(text, str) or not text:
        return text
    # One pass can leave work for the next: a restored space exposes another lost byte
    # ("aÂÂ"), a repaired letter is one ftfy then normalises (the ligature "Ĳ"). Repeating
    # until nothing changes is what makes the result a fixed point.
    for _ in range(4):
        fixed = _fix_once(text, letter_counts)
        if fixed == text:
            break
        text = fixed
    return text


def _fix_once(text: str, letter_counts: Counter | None) -> str:
    fixed = ftfy.fix_text(text, _FTFY)
    if looks_garbled(fixed):
        fixed = _fix_sequences(fixed)
        if looks_garbled(fixed):
            fixed = _restore_lost(fixed, letter_counts)
    return unicodedata.normalize("NFC", fixed)


def fix_list(values: Iterable[str], letter_counts: Counter | None = None) -> list[str]:
    out = []
    for value in values:
        fixed = " ".join(fix_text(str(value), letter_counts).split())
        if fixed and fixed not in out:
            out.append(fixed)
    return out


def letter_counts(texts: Iterable[str]) -> Counter:
    """How often each non-ASCII character occurs in clean text: the prior for lost bytes."""
    counts: Counter = Counter()
    for text in texts:
        if isinstance(text, str) and not text.isascii() and not looks_garbled(text):
            counts.update(c for c in text if ord(c) > 127)
    return counts


# -- people ---------------------------------------------------------------------------
_NAME_SPLIT = re.compile(r"[^a-z0-9]+")


def person_key(name: str) -> str:
    """Accent-, case-, hyphen- and order-insensitive: 'Joon-ho Bong' = 'Bong Joon Ho'."""
    return " ".join(sorted(t for t in _NAME_SPLIT.split(unidecode(name).lower()) if t))


def _spelling_rank(name: str, count: int, first_seen: int) -> tuple:
    diacritics = sum(1 for c in name if ord(c) > 127 and c.isalpha())
    return (not looks_garbled(name), diacritics > 0, count, -first_seen)


def canonical_people(names: Iterable[str]) -> dict[str, str]:
    """Spelling -> the one spelling used for that person everywhere in the catalog.

    ``names`` in source-priority order, repeats included (they are the votes)."""
    counts: Counter = Counter()
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        counts[name] += 1
        first.setdefault(name, i)
    by_key: dict[str, list[str]] = {}
    for name in counts:
        key = person_key(name)
        if key:
            by_key.setdefault(key, []).append(name)
    mapping = {}
    for spellings in by_key.values():
        best = max(spellings, key=lambda n: _spelling_rank(n, counts[n], first[n]))
        for name in spellings:
            mapping[name] = best
    return mapping


def _tokens(name: str) -> list[str]:
    return [t for t in _NAME_SPLIT.split(unidecode(name).lower()) if t]


def same_film_person(a: str, b: str) -> bool:
    """Two credits of one film naming the same person: the same key, or the same first
    and last name with a middle name given once in full and once as an initial or not at
    all ("Alejandro G. Iñárritu" = "Alejandro González Iñárritu"). Only safe within one
    film's credits, where two different people so named do not occur."""
    if person_key(a) == person_key(b):
        return True
    ta, tb = _tokens(a), _tokens(b)
    if len(ta) < 2 or len(tb) < 2 or ta[0] != tb[0] or ta[-1] != tb[-1]:
        return False
    ma, mb = ta[1:-1], tb[1:-1]
    if not ma or not mb:
        return True
    return len(ma) == len(mb) and all(x[0] == y[0] and (len(x) == 1 or len(y) == 1 or x == y)
                                      for x, y in zip(ma, mb, strict=True))


def merge_people(lists: Iterable[list[str]], limit: int) -> list[str]:
    """Ordered union of several sources' lists for one film, one entry per person
    (where two sources spell a person differently, the fuller spelling stays)."""
    out: list[str] = []
    for names in lists:
        for name in names:
            if not person_key(name):
                continue
            same = next((i for i, kept in enumerate(out) if same_film_person(kept, name)), None)
            if same is None:
                out.append(name)
            elif len(_tokens(name)) > len(_tokens(out[same])) or (
                    len(name) > len(out[same]) and not name.isascii()):
                out[same] = name   # "Alejandro González Iñárritu" over "Alejandro G. Iñárritu"
    return out[:limit]


# A synopsis that names its lead as "Character (Actor)": "the painfully shy Amélie (Audrey
# Tautou)". Only a parenthesis right after a capitalised word, holding nothing but names.
_CREDIT_RE = re.compile(r"\b[A-Z][\w'’.-]*\s+\(([^()]{5,100})\)")
_CREDIT_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+(?:and|&)\s+")
_NAME_RE = re.compile(r"[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}")


def overview_cast(overview: str, known: set[str]) -> list[str]:
    """Actors a synopsis credits in parentheses ("Amélie (Audrey Tautou)"), as written.

    ``known``: person keys of the catalog's credited actors. A parenthesis counts only when
    every part of it is such a name, so "(which starred Cary Grant and Audrey Hepburn)",
    about another film, or "(Paris, France)" add no one."""
    out: list[str] = []
    for match in _CREDIT_RE.finditer(overview if isinstance(overview, str) else ""):
        parts = [p.strip() for p in _CREDIT_SPLIT.split(match[1]) if p.strip()]
        if parts and all(_NAME_RE.fullmatch(p) and person_key(p) in known for p in parts):
            out += [p for p in parts if p not in out]
    return out


# -- genres and keywords ---------------------------------------------------------------
def clean_genres(genres: Iterable[str], vocabulary: frozenset[str]) -> list[str]:
    return [g for g in genres if g in vocabulary]


def is_production_tag(keyword: str) -> bool:
    return " ".join(keyword.lower().split()) in PRODUCTION_TAGS


def clean_keywords(keywords: Iterable[str]) -> list[str]:
    return [k for k in keywords if not is_production_tag(k)]


# -- audit: the before/after counts of `moviebot data report` --------------------------
TEXT_COLUMNS = ("title", "akas", "overview", "tagline", "keywords", "cast", "directors",
                "tmdb_genres")
_HTML_RE = re.compile(r"&(?:[a-z]{2,8}|#\d{2,5});")
_DANGLING_TITLE_RE = re.compile(r"(?:\b(?:or|and|of)|[:–-])\s*$", re.I)


def _values(row_value) -> list[str]:
    if isinstance(row_value, str):
        return [row_value]
    try:
        return [v for v in row_value if isinstance(v, str)]
    except TypeError:
        return []


def audit(catalog) -> dict[str, int]:
    """Counts of what the repairs fix, each in movies (or people) affected.

    ``mojibake_pattern_movies`` is the literal check (Ã, Å, â€, Ä anywhere): it also counts
    real names such as "Fucking Åmål". ``mojibake_movies`` counts what is really garbled
    (ftfy's own detector or the mid-word signature, `looks_garbled`), and
    ``ftfy_would_change_movies`` the movies where ftfy would still change an encoding.
    """
    columns = [c for c in TEXT_COLUMNS if c in catalog]
    counts = Counter()
    spellings: dict[str, set[str]] = {}
    for row in catalog[columns + ["genres"]].itertuples(index=False):
        record = dict(zip(columns + ["genres"], row, strict=True))
        texts = [t for c in columns for t in _values(record[c])]
        counts["mojibake_pattern_movies"] += any(PATTERN_RE.search(t) for t in texts)
        counts["mojibake_movies"] += any(looks_garbled(t) for t in texts)
        counts["ftfy_would_change_movies"] += any(
            ftfy.fix_encoding(t) != t for t in texts if not t.isascii())
        counts["html_entity_movies"] += any(_HTML_RE.search(t) for t in texts)
        counts["not_nfc_movies"] += any(not unicodedata.is_normalized("NFC", t) for t in texts)
        genres = _values(record["genres"])
        tmdb = _values(record.get("tmdb_genres", []))
        counts["non_genre_movies"] += (any(g not in ML_GENRES for g in genres)
                                       or any(g not in TMDB_GENRES for g in tmdb))
        tags = [k for k in _values(record.get("keywords", [])) if is_production_tag(k)]
        counts["production_tag_movies"] += bool(tags)
        counts["production_tags"] += len(tags)
        title = record["title"] if isinstance(record["title"], str) else ""
        counts["cut_off_titles"] += bool(_DANGLING_TITLE_RE.search(title))
        people = _values(record.get("cast", [])) + _values(record.get("directors", []))
        counts["cast_names"] += len(_values(record.get("cast", [])))
        for name in people:
            spellings.setdefault(person_key(fix_text(name)), set()).add(name)
    counts["people_with_several_spellings"] = sum(1 for s in spellings.values() if len(s) > 1)
    return {k: int(v) for k, v in counts.items()}
