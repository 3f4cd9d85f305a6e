"""Films added after a build (catalog updates) join the vibe space without refitting it.

A film's place in the space is the fitted movie projection applied to its features (mood
from its text, genres and keywords; era; language), as the build embeds every film. New
films get no exposure offset: offsets only hold back films that would crowd every list,
and that is measured on the built set; the next full build measures it again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.retrieval import Retriever

from .build import N_TREES
from .exposure import with_offsets
from .mood import movie_mood_features
from .space import VibeSpace, movie_features


def extend(prev: Path, out: Path, new: pd.DataFrame, seed: int = 42) -> list[str]:
    """Write ``out/crossmedia/`` movie files with ``new``'s films (catalog rows) appended.
    Returns the files written (relative to ``out``); the caller links the rest."""
    src, dst = Path(prev) / "crossmedia", Path(out) / "crossmedia"
    dst.mkdir(parents=True, exist_ok=True)
    space = VibeSpace.load(src)
    features = movie_features(movie_mood_features(new), new)
    vecs = with_offsets(space.embed_movies(features.to_numpy(np.float32)).astype(np.float32),
                        None, space.prior_weight)
    movie_vecs = np.vstack([np.load(src / "movies_vectors.npy"), vecs]).astype(np.float32)
    ids = np.concatenate([np.load(src / "movie_ids.npy"), new["movie_id"].to_numpy(np.int64)])
    offsets = np.concatenate([np.load(src / "movie_offsets.npy"),
                              np.zeros(len(new), np.float32)])
    np.save(dst / "movie_ids.npy", ids)
    np.save(dst / "movie_offsets.npy", offsets)
    index = Retriever.build(movie_vecs, "dot", trees=N_TREES, seed=seed)
    files = index.save(dst / "movies.ann", movie_vecs)
    return [str(Path(f).relative_to(out)) for f in
            [*files, dst / "movie_ids.npy", dst / "movie_offsets.npy"]]
