"""What a film lover checks first when two films are "alike": the same franchise, the same
director, the same language and country.

These are exact facts, not similarities learnt from text, so they are kept as their own
features (``Facets.features``) that the hybrid score (hybrid.py) weighs, and that the
reasons name ("also in the Mad Max series", "same director Krzysztof Kieslowski").

Franchise: the TMDB collection (``belongs_to_collection``, in the Movies Dataset subset)
where a source has it; otherwise a title rule (``sequel_base``): films whose titles share
a base ("Saw", "Saw II") where at least one looks like a sequel or spin-off, within
``YEAR_GAP`` years of each other, so remakes and unrelated same-title films are not joined. Both are
joined (union-find): "Iron Man" (collection) and "Iron Man 3" (no collection in the
subset, same stem) land in one franchise.

Saved as plain arrays and JSON (no pickle), loaded at serving time without pandas.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

FACETS = "facets.json"
# A sequel marker at the end of a title's main part: "Saw II", "Toy Story 3", "Part 2".
_SEQUEL = re.compile(r"\s+(\d{1,2}|ii|iii|iv|v|vi|vii|viii|ix|part \w+|chapter \w+|vol \w+)$")
_ARTICLES = re.compile(r"^(the|a|an|le|la|les|el|der|die|das) ")
_AND_THE = re.compile(r"\s+(?:and|&)\s+the\s+")
# A base this common is a word, not a franchise
MAX_STEM_GROUP = 12
# sequels follow within years; a same-title film decades apart is a remake or unrelated
YEAR_GAP = 20
# English is the default: two English-language films sharing it says nothing
NEUTRAL_LANGUAGE = "en"
NEUTRAL_COUNTRY = "United States of America"
LANGUAGE_NAMES = {
    "fr": "French", "de": "German", "it": "Italian", "es": "Spanish", "ja": "Japanese",
    "zh": "Chinese", "cn": "Cantonese", "ko": "Korean", "sv": "Swedish", "da": "Danish",
    "ru": "Russian", "pt": "Portuguese", "hi": "Hindi", "fa": "Persian", "pl": "Polish",
    "nl": "Dutch", "no": "Norwegian", "fi": "Finnish", "tr": "Turkish", "th": "Thai",
    "he": "Hebrew", "ar": "Arabic", "el": "Greek", "hu": "Hungarian", "cs": "Czech",
    "ro": "Romanian", "is": "Icelandic", "id": "Indonesian", "ta": "Tamil", "te": "Telugu",
}


def _list(value) -> list[str]:
    if value is None or isinstance(value, float | str):
        return []
    return [str(v) for v in value]


def _text(catalog: pd.DataFrame, column: str) -> list[str]:
    if column not in catalog:
        return [""] * len(catalog)
    return catalog[column].fillna("").astype(str).str.strip().tolist()


def sequel_base(title: str) -> tuple[str, bool]:
    """(the title's franchise key, whether the title looks like a sequel or a spin-off).

    The key is the part before a subtitle with any sequel number removed: "Iron Man 3",
    "Iron Man" -> "iron man"; "Star Wars: Episode V" -> "star wars"; "Kick-Ass 2" ->
    "kick ass"; "Harry Potter and the Goblet of Fire" -> "harry potter and the" (marked).
    Two films with the same key where neither is marked are remakes ("Psycho" 1960 and
    1998), not a franchise.
    """
    head, colon, _ = title.lower().partition(":")
    series = _AND_THE.split(head, maxsplit=1)
    if len(series) == 2:
        # "Harry Potter and the Chamber of Secrets": the series' name, then the episode.
        # The key keeps "and the", so such a title joins only other "X and the ..." titles,
        # never a film called plain "X" ("Alexander" and "Alexander and the Terrible, ...").
        head = series[0] + " and the"
    head = " ".join(re.findall(r"[a-z0-9]+", head))
    head = _ARTICLES.sub("", head)
    base = _SEQUEL.sub("", head)
    return base, bool(colon) or len(series) == 2 or base != head


def _by_era(members: list[int], years: list[float | None], gap: int = YEAR_GAP) -> list[list[int]]:
    """Split a same-title group where the years jump by more than ``gap``: "Iron Man" (1931)
    is not in the 2008 franchise."""
    ordered = sorted(members, key=lambda i: years[i] if years[i] is not None else 0)
    groups, last = [[ordered[0]]], years[ordered[0]]
    for i in ordered[1:]:
        y = years[i]
        if y is not None and last is not None and y - last > gap:
            groups.append([])
        groups[-1].append(i)
        last = y if y is not None else last
    return groups


def franchise_groups(titles: list[str], collections: list[str],
                     years: list[float | None] | None = None) -> tuple[np.ndarray, list[str]]:
    """(franchise id per movie, -1 for none; display name per franchise id)."""
    n = len(titles)
    years = years or [None] * n
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(members: list[int]) -> None:
        for other in members[1:]:
            parent[find(other)] = find(members[0])

    by_collection: dict[str, list[int]] = {}
    for i, name in enumerate(collections):
        if name:
            by_collection.setdefault(name, []).append(i)
    by_base: dict[str, list[int]] = {}
    marked = np.zeros(n, dtype=bool)
    for i, title in enumerate(titles):
        base, marked[i] = sequel_base(title)
        if len(base) >= 3:
            by_base.setdefault(base, []).append(i)
    linked = [m for m in by_collection.values() if len(m) > 1]
    linked += [g for m in by_base.values() if 1 < len(m) <= MAX_STEM_GROUP
               for g in _by_era(m, years) if len(g) > 1 and marked[g].any()]
    # a sequel-looking title joins a TMDB collection sharing its base, however many years
    # later ("Mad Max: Fury Road", 30 years after the Mad Max collection's last film)
    # (not an "X and the ..." title: "Beauty and the Beast" 2017 remakes the 1991 film, it
    # does not join that film's collection of direct-to-video sequels)
    for base, members in by_base.items():
        if len(members) <= MAX_STEM_GROUP and not base.endswith(" and the"):
            anchors = [j for j in members if collections[j]]
            linked += [[i, anchors[0]] for i in members if marked[i] and anchors and i != anchors[0]]
    for members in linked:
        join(members)
    roots: dict[int, list[int]] = {}
    for members in linked:
        for i in members:
            roots.setdefault(find(i), []).append(i)
    ids = np.full(n, -1, dtype=np.int32)
    names: list[str] = []
    for members in roots.values():
        members = sorted(set(members))
        named = [collections[i] for i in members if collections[i]]
        name = (max(set(named), key=named.count) if named else titles[members[0]])
        name = re.sub(r"\s*(collection|trilogy|saga|series|filmreihe)$", "", name, flags=re.I).strip()
        ids[members] = len(names)
        names.append(name)
    return ids, names


def _vocab_matrix(lists: list[list[str]], drop: str = "") -> tuple[sparse.csr_matrix, list[str]]:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, values in enumerate(lists):
        for v in dict.fromkeys(values):
            if v and v != drop:
                rows.append(r)
                cols.append(vocab.setdefault(v, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(len(lists), max(1, len(vocab))))
    return m, list(vocab)


_NONE = np.zeros(0, dtype=np.int64)


def _members(ids: np.ndarray) -> dict[int, np.ndarray]:
    """id -> the rows holding it, ascending (-1, "none", left out)."""
    order = np.argsort(ids, kind="stable")
    values, starts = np.unique(ids[order], return_index=True)
    groups = np.split(order.astype(np.int64), starts[1:])
    return {int(v): g for v, g in zip(values, groups, strict=True) if v >= 0}


@dataclass
class Facets:
    franchise: np.ndarray          # franchise id per row, -1 none
    franchise_names: list[str]
    language: list[str]            # original language code per row ("" unknown)
    directors: sparse.csr_matrix   # rows x directors, 0/1
    countries: sparse.csr_matrix   # rows x production countries (the US left out), 0/1

    @classmethod
    def of(cls, catalog: pd.DataFrame) -> Facets:
        titles = catalog["title"].fillna("").astype(str).tolist()
        years = [None if pd.isna(y) else float(y) for y in catalog["year"]]
        franchise, names = franchise_groups(titles, _text(catalog, "collection"), years)
        directors, _ = _vocab_matrix([_list(v) for v in catalog["directors"]])
        countries = ([_list(v) for v in catalog["countries"]] if "countries" in catalog
                     else [[] for _ in range(len(catalog))])
        country_m, _ = _vocab_matrix(countries, drop=NEUTRAL_COUNTRY)
        return cls(franchise, names, _text(catalog, "original_language"), directors, country_m)

    def __post_init__(self) -> None:
        # column-major copies answer "which films share this director / country" by slicing
        self._directors_by = self.directors.tocsc()
        self._countries_by = self.countries.tocsc()
        codes = {code: i for i, code in enumerate(sorted(set(self.language) - {"", NEUTRAL_LANGUAGE}))}
        self._lang = np.array([codes.get(code, -1) for code in self.language], dtype=np.int32)
        self._lang_rows = _members(self._lang)
        self._franchise_of: np.ndarray | None = None   # the array _franchise_rows was built from

    def _same_franchise(self, row: int) -> np.ndarray:
        """Rows in ``row``'s franchise (itself included), ascending; empty for none. Looked up,
        not compared over the catalog: serving asks this on every query."""
        if self._franchise_of is not self.franchise:    # tests may swap the array in
            self._franchise_rows, self._franchise_of = _members(self.franchise), self.franchise
        return self._franchise_rows.get(int(self.franchise[row]), _NONE)

    def facts(self, row: int, w_franchise: float, w_creator: float, w_locale: float
              ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weighted facts) for one query row: the rows where ``features`` is non-zero
        and w_franchise * franchise + w_creator * creator + w_locale * locale there, added
        in that order in float32 as the dense sum is (serving's sparse form of the same
        numbers: most films share no fact with the query)."""
        franchise = self._same_franchise(row)
        creator = self._sharing(self._directors_by, self.directors, row)
        country = self._sharing(self._countries_by, self.countries, row)
        language = self._lang_rows.get(int(self._lang[row]), _NONE)
        rows = np.unique(np.concatenate([franchise, creator, country, language]))
        parts = np.zeros((3, len(rows)), np.float32)
        parts[0, np.searchsorted(rows, franchise)] = 1.0
        parts[1, np.searchsorted(rows, creator)] = 1.0
        parts[2, np.searchsorted(rows, country)] = 0.5
        parts[2, np.searchsorted(rows, language)] = 1.0
        values = np.zeros(len(rows), np.float32)
        for part, weight in zip(parts, (w_franchise, w_creator, w_locale), strict=True):
            if weight:
                values += weight * part
        return rows, values

    @staticmethod
    def _sharing(by: sparse.csc_matrix, m: sparse.csr_matrix, row: int) -> np.ndarray:
        """Rows sharing any of ``row``'s entries (itself included)."""
        cols = m.indices[m.indptr[row]:m.indptr[row + 1]]
        if not len(cols):
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([by.indices[by.indptr[c]:by.indptr[c + 1]] for c in cols])

    # -- features for a batch of query rows: (len(rows), n_movies) float32 in [0, 1] --------
    def features(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        rows = np.asarray(rows)
        n = len(self.franchise)
        franchise = np.zeros((len(rows), n), np.float32)
        creator = np.zeros((len(rows), n), np.float32)
        locale = np.zeros((len(rows), n), np.float32)
        for i, row in enumerate(rows):
            if self.franchise[row] >= 0:
                franchise[i] = self.franchise == self.franchise[row]
            creator[i, self._sharing(self._directors_by, self.directors, row)] = 1.0
            # a shared (non-US) country is half as telling as a shared non-English language
            locale[i, self._sharing(self._countries_by, self.countries, row)] = 0.5
            if self._lang[row] >= 0:
                locale[i, self._lang == self._lang[row]] = 1.0
        return {"franchise": franchise, "creator": creator, "locale": locale}

    def siblings(self, row: int) -> np.ndarray:
        out = self._same_franchise(row)
        return out[out != row]

    def franchise_name(self, row: int) -> str:
        f = int(self.franchise[row])
        return self.franchise_names[f] if f >= 0 else ""

    def language_name(self, row: int) -> str:
        code = self.language[row]
        return LANGUAGE_NAMES.get(code, "") if code and code != NEUTRAL_LANGUAGE else ""

    def director_ids(self, row: int) -> np.ndarray:
        m = self.directors
        return m.indices[m.indptr[row]:m.indptr[row + 1]]

    # -- artifacts ---------------------------------------------------------------------
    def save(self, out: Path) -> list[str]:
        np.save(out / "franchise.npy", self.franchise)
        for name, m in (("directors", self.directors), ("countries", self.countries)):
            np.save(out / f"{name}_indptr.npy", m.indptr.astype(np.int64))
            np.save(out / f"{name}_indices.npy", m.indices.astype(np.int32))
        (out / FACETS).write_text(json.dumps({
            "franchise_names": self.franchise_names, "language": self.language,
            "directors_shape": list(self.directors.shape), "countries_shape": list(self.countries.shape)}))
        return ["franchise.npy", FACETS, *(f"{n}_{p}.npy" for n in ("directors", "countries")
                                          for p in ("indptr", "indices"))]

    @classmethod
    def load(cls, dir: Path) -> Facets:
        meta = json.loads((dir / FACETS).read_text())

        def csr(name: str) -> sparse.csr_matrix:
            indptr, indices = np.load(dir / f"{name}_indptr.npy"), np.load(dir / f"{name}_indices.npy")
            return sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                     shape=tuple(meta[f"{name}_shape"]))
        return cls(np.load(dir / "franchise.npy"), meta["franchise_names"], meta["language"],
                   csr("directors"), csr("countries"))
