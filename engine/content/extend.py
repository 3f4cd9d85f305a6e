"""Films added after a build (catalog updates) join the content stage without retraining.

Every per-film array of ``<version>/content/`` gets the new films' rows appended, each made
the way the build made the others, from what the build kept:

* TF-IDF and metadata: the build's saved transforms (``foldin.FoldIn``: each field's
  vocabulary and idf, the SVD components, the metadata scale), the same code that embeds
  a film asked for on demand, so a film gets the same TF-IDF and metadata blocks whether
  it is asked for before an update or served after it;
* BiLSTM: the build's trained encoder runs inference (train_encoder.encode), giving the
  text embedding and the predicted audience vector (the stand-in for films nobody rated);
* fused vectors: ``FoldIn.fuse``, centred by the built films' block means and weighted as
  chosen; prior: the film's vote-count percentile among the built films;
* facets (franchise, director, language, country) are exact facts: recomputed for the
  whole table; co-likes: none (nobody has rated a new film), so the hybrid scores it by
  content and facts, as for any film without co-likes;
* the Annoy index is rebuilt over all vectors (same trees, seed).

The catalog the build fitted on is kept as ``fit_catalog.parquet`` (a hard link of the
built version's catalog.parquet, so it costs no space): its length says which rows of the
block files are the built films (``foldin.fitted_rows``), whose means centre every later
film, whatever the served catalog has gained since.

A version built before the transforms were saved cannot be extended: the update says
"rebuild content first" (`moviebot build --only content`, minutes) rather than keeping a
second way to recover the transforms that only old versions would ever use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MovieBotError
from . import index as idx
from .audience import _normalise
from .facets import Facets
from .foldin import BLOCK_ORDER, FoldIn
from .hybrid import HYBRID
from .layout import (
    BLOCK_FILES,
    CONFIG,
    ENCODER_WEIGHTS,
    FIT_CATALOG,
    METADATA_MODEL,
    TFIDF_MODEL_FILES,
)
from .metadata import metadata_transform
from .serving import VECTORS
from .text import movie_text

AUDIENCE = ("audience.npy", "audience_predicted.npy", "audience_warm.npy")


class RebuildContentFirst(MovieBotError):
    """The served version has no saved content transforms (built before they existed)."""

    def __init__(self, version: str, missing: list[str]):
        self.version, self.missing = version, missing

    def __str__(self) -> str:
        return (f"version {self.version} was built before the content transforms were saved "
                f"(no content/{', content/'.join(self.missing)}), so new films cannot be placed "
                "among its films: rebuild content first (`moviebot build --only content`), "
                "then run the update again. Nothing was fetched or published.")


def missing_transforms(version_dir: Path) -> list[str]:
    """The saved-transform files an update needs that ``version_dir/content`` lacks."""
    content = Path(version_dir) / "content"
    return [f for f in (*TFIDF_MODEL_FILES, METADATA_MODEL) if not (content / f).exists()]


def fit_catalog(version_dir: Path) -> tuple[pd.DataFrame, Path]:
    """The catalog the content stage was fitted on, and the file holding it."""
    kept = Path(version_dir) / "content" / FIT_CATALOG
    path = kept if kept.exists() else Path(version_dir) / "catalog.parquet"
    return pd.read_parquet(path), path


def extend(prev: Path, out: Path, new: pd.DataFrame, manifest: dict,
           encode=None) -> list[str]:
    """Write ``out/content/`` for the previous version's films plus ``new`` (catalog rows,
    in the order they are appended to the catalog). Returns the files written (relative to
    ``out``); the caller hard-links the rest (config, vocabulary, encoder, hybrid weights).

    ``encode(texts) -> (embeddings, audience or None)`` is the encoder's inference; by
    default the build's saved encoder (TensorFlow is imported only then).
    """
    src, dst = Path(prev) / "content", Path(out) / "content"
    if missing := missing_transforms(prev):
        raise RebuildContentFirst(Path(prev).name, missing)
    fold = FoldIn.load(src)
    dst.mkdir(parents=True, exist_ok=True)
    fit, fit_path = fit_catalog(prev)
    config = json.loads((src / CONFIG).read_text())
    params = manifest["components"]["content"]["params"]
    blocks = {name: np.load(src / f) for name, f in BLOCK_FILES.items()}

    # the three blocks of the new films
    rows = new.to_dict("records")
    added = {"tfidf": _stack([fold.tfidf(r) for r in rows], blocks["tfidf"].shape[1]),
             "metadata": metadata_rows(fold, new)}
    texts = [movie_text(row) for _, row in new.iterrows()]
    predicted = None
    encoder_params = params.get("encoder", {})
    if (src / ENCODER_WEIGHTS).exists() and encoder_params.get("n_labels"):
        if encode is None:
            from .train_encoder import encode as run_encoder

            def encode(texts):
                return run_encoder(texts, src / "vocab.json", src / ENCODER_WEIGHTS, encoder_params)
        added["bilstm"], predicted = encode(texts)
    else:
        # a version built before the encoder was kept (or one that skipped it): the text
        # block is missing for these films, which fusion handles as for an empty overview
        added["bilstm"] = np.zeros((len(new), blocks["bilstm"].shape[1]), np.float32)
    fused = _stack([fold.fuse({name: added[name][i] for name in BLOCK_ORDER})
                    for i in range(len(new))], np.load(src / VECTORS, mmap_mode="r").shape[1])

    written = [f"content/{FIT_CATALOG}"]
    os.link(fit_path, dst / FIT_CATALOG)   # a published file, never written: a link is safe

    def save(name: str, array: np.ndarray) -> None:
        np.save(dst / name, array)
        written.append(f"content/{name}")

    for name, file in BLOCK_FILES.items():
        save(file, np.vstack([blocks[name], added[name].astype(np.float32)]))
    vectors = np.vstack([np.load(src / VECTORS), fused])
    save(VECTORS, vectors.astype(np.float32))
    save("ids.npy", np.concatenate([np.load(src / "ids.npy"), new["movie_id"].to_numpy(np.int64)]))
    save("prior.npy", np.concatenate([np.load(src / "prior.npy"),
                                      new_prior(fit, new, float(config.get("gamma", 1.0)))]))
    if all((src / f).exists() for f in AUDIENCE):
        dim = np.load(src / AUDIENCE[0], mmap_mode="r").shape[1]
        guess = predicted if predicted is not None else np.zeros((len(new), dim), np.float32)
        # a new film has no real audience: its stand-in is the encoder's prediction
        save(AUDIENCE[0], np.vstack([np.load(src / AUDIENCE[0]), _normalise(guess)]))
        save(AUDIENCE[1], np.vstack([np.load(src / AUDIENCE[1]), guess.astype(np.float32)]))
        save(AUDIENCE[2], np.concatenate([np.load(src / AUDIENCE[2]), np.zeros(len(new), bool)]))
    if (src / HYBRID).exists():
        written += _extend_hybrid(src, dst, len(new))
        catalog = pd.concat([pd.read_parquet(Path(prev) / "catalog.parquet"), new],
                            ignore_index=True)
        written += [f"content/{f}" for f in Facets.of(catalog).save(dst)]
    annoy = idx.build_annoy(vectors, int(config["n_trees"]), seed=int(config.get("seed", 42)))
    idx.save(annoy, dst / "index.ann")
    written.append("content/index.ann")
    return written


def metadata_rows(fold: FoldIn, new: pd.DataFrame) -> np.ndarray:
    """The new films' metadata block, on the build's scale (one call for all rows)."""
    return metadata_transform(new, fold.metadata_model)


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)


def new_prior(fit: pd.DataFrame, new: pd.DataFrame, gamma: float) -> np.ndarray:
    """The prior of films added later: their TMDB vote-count percentile among the films
    the build ranked (metadata.vote_percentile's rule), raised to the content gamma."""
    votes = np.sort(pd.to_numeric(fit["vote_count"], errors="coerce").fillna(0).to_numpy(float))
    mine = pd.to_numeric(new["vote_count"], errors="coerce").fillna(0).to_numpy(float)
    percentile = np.searchsorted(votes, mine, side="left") / max(1, len(votes) - 1)
    return (np.clip(percentile, 0.0, 1.0) ** gamma).astype(np.float32)


def _extend_hybrid(src: Path, dst: Path, n_new: int) -> list[str]:
    """Co-like neighbours: new films have none (empty CSR rows); the weights are kept."""
    meta = json.loads((src / HYBRID).read_text())
    indptr = np.load(src / "cf_indptr.npy")
    indptr = np.concatenate([indptr, np.full(n_new, indptr[-1], dtype=indptr.dtype)])
    np.save(dst / "cf_indptr.npy", indptr)
    meta["n"] = int(meta["n"]) + n_new
    (dst / HYBRID).write_text(json.dumps(meta, indent=2))
    return ["content/cf_indptr.npy", f"content/{HYBRID}"]
