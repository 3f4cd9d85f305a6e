"""MovieLens ratings plus chat feedback as one weighted user x item matrix.

Everything downstream works on an :class:`Interactions` object: a ratings table with
integer user/item indices, and the sparse matrix of signed confidences built from it
(see ``signals.confidence``). Positive cells train the ranking models; negative cells are
kept so that fold-in can push similar films down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.errors import DataError

from .signals import DISLIKE_AS_RATING, LIKE_AS_RATING, confidence

ML_SMALL = Path("movielens/ml-latest-small/ratings.csv")
ML_100K = Path("movielens/ml-100k/u.data")
COLUMNS = ["user", "item", "rating", "timestamp"]


def load_ratings(path: Path) -> pd.DataFrame:
    """Read a MovieLens ratings file (ratings.csv of any release, or ml-100k's u.data)."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "ratings file not found")
    try:
        if path.name == "u.data" or path.suffix == ".data":
            df = pd.read_csv(path, sep="\t", header=None, names=COLUMNS)
        elif path.suffix == ".dat":  # ml-1m / ml-10m style "u::i::r::t"
            df = pd.read_csv(path, sep="::", header=None, names=COLUMNS, engine="python")
        else:
            df = pd.read_csv(path)  # the C parser handles the CRLF line endings
            df = df.rename(columns={"userId": "user", "movieId": "item"})
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(str(path), f"not a MovieLens ratings file ({exc})") from None
    missing = set(COLUMNS[:3]) - set(df.columns)
    if missing:
        raise DataError(str(path), f"missing column(s) {sorted(missing)}; expected "
                        "userId,movieId,rating,timestamp")
    if "timestamp" not in df:
        df["timestamp"] = 0
    df = df[COLUMNS].dropna(subset=["user", "item", "rating"])
    df["user"] = df["user"].astype(str)
    df["item"] = df["item"].astype(np.int64)
    df["rating"] = df["rating"].astype(np.float32)
    df["timestamp"] = df["timestamp"].fillna(0).astype(np.int64)
    return df


def feedback_ratings(feedback: pd.DataFrame | None) -> pd.DataFrame:
    """Chat feedback events as rating rows: thumbs become 4.5 / 1.5 stars, users "chat:<key>"."""
    if feedback is None or feedback.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(COLUMNS, ["str", "int64", "float32", "int64"], strict=True)})
    fb = feedback.copy()
    rating = pd.to_numeric(fb.get("value"), errors="coerce")
    rating = rating.where(fb["signal"] == "rating")
    rating = rating.mask(fb["signal"] == "like", LIKE_AS_RATING)
    rating = rating.mask(fb["signal"] == "dislike", DISLIKE_AS_RATING)
    out = pd.DataFrame({
        "user": "chat:" + fb["user_key"].astype(str),
        "item": pd.to_numeric(fb["movie_id"], errors="coerce"),
        "rating": rating.clip(0.5, 5.0),
        "timestamp": pd.to_numeric(fb.get("timestamp", 0), errors="coerce"),
    }).dropna(subset=["item", "rating"])
    out["item"] = out["item"].astype(np.int64)
    out["rating"] = out["rating"].astype(np.float32)
    out["timestamp"] = out["timestamp"].fillna(0).astype(np.int64)
    # the last event per (user, movie) wins, as in the chat itself
    return out.drop_duplicates(["user", "item"], keep="last")


@dataclass
class Interactions:
    """Ratings with dense indices; ``item_ids[j]`` is the movieId of column j."""

    df: pd.DataFrame            # user, item, rating, timestamp, uidx, iidx, weight
    user_ids: np.ndarray
    item_ids: np.ndarray

    @classmethod
    def from_ratings(cls, df: pd.DataFrame, min_item_count: int = 1,
                     item_ids: np.ndarray | None = None) -> Interactions:
        """Index the ratings. Items seen fewer than ``min_item_count`` times are dropped
        (too few ratings to learn a vector from; they reach users through content
        neighbours instead). Pass ``item_ids`` to reuse an existing item universe."""
        df = df.drop_duplicates(["user", "item"], keep="last")
        if item_ids is None:
            counts = df["item"].value_counts()
            item_ids = np.sort(counts.index[counts >= min_item_count].to_numpy(np.int64))
        df = df[df["item"].isin(item_ids)].copy()
        user_ids = np.asarray(sorted(df["user"].unique()), dtype=object)
        df["uidx"] = np.searchsorted(user_ids, df["user"].to_numpy(object)).astype(np.int32)
        df["iidx"] = np.searchsorted(item_ids, df["item"].to_numpy()).astype(np.int32)
        df["weight"] = np.vectorize(confidence, otypes=[np.float32])(df["rating"].to_numpy())
        return cls(df.reset_index(drop=True), user_ids, np.asarray(item_ids, dtype=np.int64))

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self, positive_only: bool = True) -> sp.csr_matrix:
        """users x items of confidences (only the positive ones unless asked)."""
        d = self.df[self.df["weight"] > 0] if positive_only else self.df
        return sp.csr_matrix((d["weight"].to_numpy(np.float32), (d["uidx"], d["iidx"])),
                             shape=(self.n_users, self.n_items))

    def item_index(self, movie_ids) -> np.ndarray:
        """Column of each movieId, -1 where the model does not know it."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, movie_ids)
        pos = np.clip(pos, 0, max(self.n_items - 1, 0))
        ok = self.item_ids[pos] == movie_ids if self.n_items else np.zeros(len(movie_ids), bool)
        return np.where(ok, pos, -1)


def load_training_ratings(data_dir: Path, ratings_path: Path | None = None,
                          feedback: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ratings a build trains on: a MovieLens file (default ml-latest-small) + chat feedback."""
    path = Path(ratings_path) if ratings_path else Path(data_dir) / ML_SMALL
    ratings = load_ratings(path)
    extra = feedback_ratings(feedback)
    if len(extra):
        ratings = pd.concat([ratings, extra], ignore_index=True)
    return ratings
