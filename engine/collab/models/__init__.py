"""Ranking models by kind, so a saved model directory can be loaded back by its name."""

from __future__ import annotations

from .als import ALS
from .autoencoder import Autoencoder
from .base import RankingModel
from .ease import EASE
from .popularity import Popularity

MODELS: dict[str, type[RankingModel]] = {
    m.kind: m for m in (Popularity, ALS, EASE, Autoencoder)
}

__all__ = ["ALS", "EASE", "MODELS", "Autoencoder", "Popularity", "RankingModel"]
