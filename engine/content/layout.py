"""The files the content stage writes below ``<version>/content/`` that the build and the
evaluation both read (the serving files are named in serving.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CONFIG = "content.json"
ENCODER_WEIGHTS = "encoder.weights.h5"   # the trained BiLSTM (catalog updates embed new films)
BLOCK_FILES = {"tfidf": "tfidf.npy", "bilstm": "bilstm.npy", "metadata": "metadata.npy"}
# The catalog the content stage was fitted on, in a version a catalog update made (a hard
# link of the built catalog): the block files' first len(fit catalog) rows are the built films.
FIT_CATALOG = "fit_catalog.parquet"


def load_blocks(content_dir: Path) -> dict[str, np.ndarray]:
    return {name: np.load(content_dir / f) for name, f in BLOCK_FILES.items()}

# The fitted TF-IDF transform (tfidf.save_model) and the metadata scale (metadata.py):
# what foldin.py needs to embed a film that is not in the catalog.
TFIDF_MODEL = "tfidf_model.json"
TFIDF_IDF = "tfidf_idf.npy"
TFIDF_COMPONENTS = "tfidf_components.npy"
TFIDF_MODEL_FILES = (TFIDF_MODEL, TFIDF_IDF, TFIDF_COMPONENTS)
METADATA_MODEL = "metadata_model.json"
