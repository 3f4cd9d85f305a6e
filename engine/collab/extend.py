"""Films added after a build (catalog updates) get collab vectors without retraining.

Nobody has rated a new film, so it is given a vector exactly as the build gives every
unrated film (cold_items.fused_neighbours, ``RankingModel.extend``): the shrunk blend of
its neighbours by fused content vector among the films the model was trained on (those
with likes). The new version's content stage must already hold the new films' fused
vectors (jobs/catalog_update.py extends content first).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .build import TREES
from .cold_items import fused_neighbours, load_fused
from .models import MODELS
from .vectors import VectorIndex


def extend(prev: Path, out: Path, catalog: pd.DataFrame, new_ids: np.ndarray,
           seed: int = 42) -> list[str]:
    """Write ``out/collab/`` with rows for ``new_ids`` (films in ``catalog``, the full new
    table), their neighbours taken from ``out/content/`` (written first). Returns the files
    written (relative to ``out``); the caller links the rest."""
    src, dst = Path(prev) / "collab", Path(out) / "collab"
    meta = json.loads((src / "collab.json").read_text())
    model = MODELS[meta["default"]].load(src / "model")
    item_ids = np.load(src / "item_ids.npy")
    popularity = np.load(src / "popularity.npy")
    new_ids = np.setdiff1d(np.asarray(new_ids, dtype=np.int64), item_ids)
    # the films the model learnt from: blending blends of other unrated films would only
    # wash the signal out
    trained = np.flatnonzero(popularity > 0)
    reachable, weights = fused_neighbours(*load_fused(out), item_ids[trained], new_ids)
    if len(reachable):
        cols = trained[weights.tocoo().col]
        coo = weights.tocoo()
        model.extend(sp.csr_matrix((coo.data, (coo.row, cols)),
                                   shape=(len(reachable), len(item_ids))))
        item_ids = np.concatenate([item_ids, reachable])
        popularity = np.concatenate([popularity, np.zeros(len(reachable), np.float32)])
    order = np.argsort(item_ids, kind="stable")   # serving looks rows up by searchsorted
    item_ids, popularity = item_ids[order], popularity[order]
    for name in model.item_arrays:
        setattr(model, name, np.asarray(getattr(model, name))[order])
    dst.mkdir(parents=True, exist_ok=True)
    files = model.save(dst / "model")
    np.save(dst / "item_ids.npy", item_ids)
    np.save(dst / "popularity.npy", popularity)
    index = VectorIndex.build(model.item_vectors(), dst / "index.ann",
                              trees=int(meta.get("trees", TREES)), seed=seed)
    meta.update(items=len(item_ids), index_dim=index.dim,
                content_only_items=int(meta.get("content_only_items", 0)) + len(reachable))
    (dst / "collab.json").write_text(json.dumps(meta, indent=2))
    return [str(Path(f).relative_to(out)) for f in
            [*files, dst / "item_ids.npy", dst / "popularity.npy", dst / "index.ann",
             dst / "collab.json"]]
