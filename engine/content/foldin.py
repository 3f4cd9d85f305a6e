"""A content vector for a film that is not in the catalog (a TMDB film asked for on demand),
computed at serving time without TensorFlow or scikit-learn.

The served vector fuses three blocks (fusion.py): TF-IDF, the BiLSTM encoder and metadata.
Two of them can be computed for any film from what the build saved:

* TF-IDF: each field's vocabulary and idf, the field weights and the SVD components
  (``tfidf.save_model``): sublinear tf x idf, L2 per field, weighted, projected, exactly as
  ``TfidfVectorizer.transform`` + ``TruncatedSVD.transform`` would;
* metadata: genre one-hots and standardised numbers on the catalog's own scale
  (``metadata_model.json``).

The encoder's block needs TensorFlow, which serving never imports, so it is left out: the
film is fused like a catalog film without that block (fusion.py keeps a unit vector of the
blocks it has, so its cosines mean the same). Each block is centred with the catalog's
mean of that block, as ``fusion.prepare_block`` did at build time.

A version built before these files existed has no fold-in (``FoldIn.load`` returns None).
A catalog update (extend.py) embeds the films it adds with this same class, so the saved
files travel into every version it writes; the block means stay those of the built films.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .layout import (
    BLOCK_FILES,
    CONFIG,
    FIT_CATALOG,
    METADATA_MODEL,
    TFIDF_COMPONENTS,
    TFIDF_IDF,
    TFIDF_MODEL,
    TFIDF_MODEL_FILES,
)
from .metadata import metadata_transform
from .text import field_documents

# The fused blocks in the order fusion.fuse concatenated them (build.compute_blocks' order).
BLOCK_ORDER = ("tfidf", "bilstm", "metadata")
# The catalog columns a row needs (engine.tmdb.catalog_row makes them from TMDB's record).
ROW_COLUMNS = ("overview", "tagline", "keywords", "genres", "tmdb_genres", "cast", "directors",
               "year", "runtime", "vote_average")


class FoldIn:
    """Embeds catalog-shaped rows into one version's content space."""

    def __init__(self, tfidf_model: dict, idf: np.ndarray, components: np.ndarray,
                 metadata_model: dict, weights: dict[str, float], means: dict[str, np.ndarray | None],
                 dims: dict[str, int]):
        self.fields = list(tfidf_model["fields"])
        self.field_weights = {k: float(v) for k, v in tfidf_model["field_weights"].items()}
        self.vocab: dict[str, dict[str, int]] = {}
        self.offset: dict[str, int] = {}
        start = 0
        for name in self.fields:
            words = tfidf_model["vocab"][name]
            self.vocab[name] = {w: i for i, w in enumerate(words)}
            self.offset[name] = start
            start += len(words)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.components = np.asarray(components, dtype=np.float64)   # (n_components, features)
        self.metadata_model = metadata_model
        self.weights = weights
        self.means = means
        self.dims = dims

    @classmethod
    def load(cls, content_dir: Path) -> FoldIn | None:
        content_dir = Path(content_dir)
        needed = [*TFIDF_MODEL_FILES, METADATA_MODEL, CONFIG, *BLOCK_FILES.values()]
        if not all((content_dir / name).exists() for name in needed):
            return None
        config = json.loads((content_dir / CONFIG).read_text())
        weights = {name: float(config["weights"].get(name, 0.0)) for name in BLOCK_ORDER}
        means, dims = {}, {}
        n_fit = fitted_rows(content_dir)
        for name in BLOCK_ORDER:
            block = np.load(content_dir / BLOCK_FILES[name], mmap_mode="r")[:n_fit]
            dims[name] = int(block.shape[1])
            present = np.linalg.norm(block, axis=1) > 0
            # fusion.prepare_block centres only when at least two films have the block
            means[name] = (np.asarray(block[present], np.float64).mean(axis=0)
                           if present.sum() >= 2 else None)
        return cls(json.loads((content_dir / TFIDF_MODEL).read_text()),
                   np.load(content_dir / TFIDF_IDF), np.load(content_dir / TFIDF_COMPONENTS),
                   json.loads((content_dir / METADATA_MODEL).read_text()), weights, means, dims)

    # -- the blocks ----------------------------------------------------------------------
    def tfidf(self, row: dict) -> np.ndarray:
        """The film's TF-IDF block (n_components,): the saved transform, token by token."""
        docs = field_documents(_frame(row))
        out = np.zeros(self.components.shape[0], dtype=np.float64)
        for name in self.fields:
            vocab = self.vocab[name]
            # words outside the vocabulary (stop words included: they were dropped before
            # the vocabulary was fitted) count for nothing, as in TfidfVectorizer.transform
            counts = Counter(t for t in docs[name][0] if t in vocab)
            if not counts:
                continue
            cols = np.array([self.offset[name] + vocab[t] for t in counts])
            values = np.array([1.0 + math.log(c) for c in counts.values()]) * self.idf[cols]
            values /= np.linalg.norm(values)
            out += self.components[:, cols] @ (values * self.field_weights.get(name, 1.0))
        return out.astype(np.float32)

    def metadata(self, row: dict) -> np.ndarray:
        return metadata_transform(_frame(row), self.metadata_model)[0]

    def blocks(self, row: dict) -> dict[str, np.ndarray]:
        """Every block the film can have here (the encoder's is zero: not computed)."""
        return {"tfidf": self.tfidf(row), "bilstm": np.zeros(self.dims["bilstm"], np.float32),
                "metadata": self.metadata(row)}

    def fuse(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        """fusion.fuse for one film: each block centred, unit length, times sqrt(weight)."""
        parts = []
        for name in BLOCK_ORDER:
            weight = self.weights.get(name, 0.0)
            if weight <= 0:
                continue
            x = np.asarray(blocks[name], dtype=np.float64)
            if np.linalg.norm(x) > 0 and self.means[name] is not None:
                centred = x - self.means[name]
                # a film exactly on the mean keeps its raw direction (prepare_block)
                x = centred if np.linalg.norm(centred) >= 1e-6 else x
            norm = np.linalg.norm(x)
            parts.append((x / norm if norm > 0 else x) * math.sqrt(weight))
        fused = np.concatenate(parts)
        norm = np.linalg.norm(fused)
        return (fused / norm if norm > 0 else fused).astype(np.float32)

    def vector(self, row: dict) -> np.ndarray:
        """The film's served content vector (the same space as ``vectors.npy``)."""
        return self.fuse(self.blocks(row))


def fitted_rows(content_dir: Path) -> int | None:
    """How many leading rows of the block files are the films the build fitted on: all of
    them (None) in a built version; after catalog updates, the fit catalog's length (the
    films added later must not move the means that centred the built ones)."""
    path = Path(content_dir) / FIT_CATALOG
    if not path.exists():
        return None
    import pyarrow.parquet as pq  # the row count from the footer, without reading the rows

    return int(pq.read_metadata(path).num_rows)


def _frame(row: dict) -> pd.DataFrame:
    """One catalog-shaped row (missing columns empty) for the build's own tokenisers."""
    values = {}
    for column in ROW_COLUMNS:
        value = row.get(column)
        if column in ("keywords", "genres", "tmdb_genres", "cast", "directors"):
            value = list(value) if value is not None else []
        elif column in ("overview", "tagline"):
            value = value or ""
        values[column] = [value]
    return pd.DataFrame(values)
