"""The files the content stage writes below ``<version>/content/`` that the build and the
evaluation both read (the serving files are named in serving.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CONFIG = "content.json"
ENCODER_WEIGHTS = "encoder.weights.h5"   # the trained BiLSTM (catalog updates embed new films)
BLOCK_FILES = {"tfidf": "tfidf.npy", "bilstm": "bilstm.npy", "metadata": "metadata.npy"}


def load_blocks(content_dir: Path) -> dict[str, np.ndarray]:
    return {name: np.load(content_dir / f) for name, f in BLOCK_FILES.items()}
