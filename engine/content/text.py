"""Tokenisation and the vocabulary shared by the encoder's training and its artifacts.

Plain Python + numpy so the vocabulary can be saved as JSON and read without TensorFlow.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from unidecode import unidecode

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
PAD, OOV = "<pad>", "<oov>"


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-folded word tokens ("Amélie's" -> ["amelie's"])."""
    return _TOKEN.findall(unidecode(text or "").lower())


def movie_text(row: Any) -> str:
    """The encoder's input for one catalog row: overview, tagline, then keywords."""
    keywords = row["keywords"] if len(row["keywords"]) else []
    return " ".join(part for part in (row["overview"], row["tagline"], " ".join(keywords)) if part)


@dataclass
class Vocab:
    """Word -> id, with 0 for padding and 1 for out-of-vocabulary words."""

    words: list[str]

    def __post_init__(self) -> None:
        self._ids = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, docs: Iterable[Sequence[str]], max_size: int = 20000, min_count: int = 2) -> Vocab:
        counts = Counter(tok for doc in docs for tok in doc)
        # ties broken alphabetically so the same corpus always gives the same ids
        common = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, OOV] + common[: max_size - 2])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Sequence[str], max_len: int) -> np.ndarray:
        ids = [self._ids.get(t, 1) for t in tokens[:max_len]]
        out = np.zeros(max_len, dtype=np.int32)
        out[: len(ids)] = ids
        return out

    def encode_many(self, docs: Sequence[Sequence[str]], max_len: int) -> np.ndarray:
        return np.stack([self.encode(d, max_len) for d in docs]) if docs else np.zeros((0, max_len), np.int32)

    def save(self, path: Path, **extra: Any) -> None:
        path.write_text(json.dumps({"words": self.words, **extra}))

    @classmethod
    def load(cls, path: Path) -> Vocab:
        return cls(json.loads(path.read_text())["words"])


# TF-IDF's fields (tfidf.py), here so that serving can tokenise a film the same way
# without importing scikit-learn (foldin.py).
FIELDS = ("overview", "keywords", "genres", "cast", "directors")


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if value is not None and len(value) else []


def _names(values) -> list[str]:
    # "Christopher Nolan" -> "christopher_nolan": one token per person / keyword / genre
    return ["_".join(tokenize(v)) for v in _as_list(values) if tokenize(v)]


def field_documents(catalog) -> dict[str, list[list[str]]]:
    """Token lists per TF-IDF field, one per row of ``catalog`` (a DataFrame of catalog
    columns)."""
    text = (catalog["overview"].fillna("") + " " + catalog["tagline"].fillna("")).tolist()
    genres = [_names(list(_as_list(a)) + list(_as_list(b)))
              for a, b in zip(catalog["genres"], catalog["tmdb_genres"], strict=True)]
    return {
        "overview": [tokenize(t) for t in text],
        "keywords": [_names(v) for v in catalog["keywords"]],
        "genres": genres,
        "cast": [_names(v) for v in catalog["cast"]],
        "directors": [_names(v) for v in catalog["directors"]],
    }
