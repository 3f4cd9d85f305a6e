"""A built version's content stage as both evaluation tables read it (evaluate.py's
content tables and hybrid_eval.py's hybrid table): its config, catalog, the ratings it
was built from, the embedding blocks and the fusion it chose."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import CATALOG_FILE
from ..datasets import movielens
from .fusion import FusionChoice
from .layout import CONFIG, load_blocks


@dataclass
class BuiltContent:
    dir: Path                      # <version>/content
    config: dict
    catalog: pd.DataFrame
    ratings: pd.DataFrame
    blocks: dict[str, np.ndarray]
    choice: FusionChoice
    movie_ids: np.ndarray


def load_built(version_dir: Path, data_dir: Path, ratings_path: Path | None = None
               ) -> BuiltContent:
    """``ratings_path``: the ratings to evaluate on; default the ones the build used."""
    content = Path(version_dir) / "content"
    config = json.loads((content / CONFIG).read_text())
    catalog = pd.read_parquet(Path(version_dir) / CATALOG_FILE)
    ratings_path = ratings_path or (Path(config["ratings"]) if config.get("ratings") else None)
    ratings = (movielens.ratings(ratings_path) if ratings_path
               else movielens.small_ratings(data_dir))
    return BuiltContent(
        dir=content, config=config, catalog=catalog, ratings=ratings,
        blocks=load_blocks(content),
        choice=FusionChoice(config["weights"], config["lam"], config["gamma"],
                            config["n_candidates"]),
        movie_ids=catalog["movie_id"].to_numpy(np.int64))
