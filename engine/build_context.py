"""What every build stage receives, and what it hands back."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class BuildContext:
    data_dir: Path                 # raw data (MOVIEBOT_DATA_DIR)
    out_dir: Path                  # the new version directory being written
    quick: bool = False            # tiny models for tests and smoke runs
    seed: int = 42
    ratings_path: Path | None = None   # any MovieLens-format ratings.csv (default: ml-latest-small)
    previous_dir: Path | None = None   # the currently published version, for warm starts
    feedback: pd.DataFrame | None = None  # chat feedback events (user_key, movie_id, signal, value)
    progress: bool = True          # show progress bars
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # "catalog", "songs", "ratings"
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("moviebot.build"))

    def component_dir(self, name: str) -> Path:
        path = self.out_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


# A stage returns its manifest entry: {"files": [...], "metrics": {...}, "params": {...}}
StageResult = dict[str, Any]
