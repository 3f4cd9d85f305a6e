"""`PartyRecommender`: films a group will enjoy together, each with the group's reason.

Each member's history is folded into the collaborative model exactly as /recommend does
(`CollabRecommender.fold_in`), giving every member a score for every film. Candidates are
the members' watchlists, each member's collaborative top films and the content neighbours
of what they liked most. A film anyone disliked or rated <= 2 is vetoed, films anyone has
rated are left out (unless ``rewatch``), and the rest are ranked by the members' benefits
with a fairness term (engine/party/aggregate.py). When nothing passes, the veto is relaxed
step by step and the group is told (``ResolvedGroup.note``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..catalog import Catalog
from ..collab.diversity import diversify
from ..collab.serving import CollabRecommender, FoldIn
from ..collab.signals import NEGATIVE_AT, POSITIVE_AT, History
from ..content.serving import ContentIndex, NotIndexed
from ..errors import ComponentMissing, InvalidInput
from ..queries import GroupMember, GroupQuery, MovieQuery, ResolvedGroup
from ..recommender import check_k
from ..results import Filters, Movie, Recommendation, Recommendations
from . import aggregate
from .reasons import group_reason

MAX_MEMBERS = 25
WATCHLIST = "watchlist"
PER_MEMBER = 60          # each member's collaborative top films taken as candidates
SEEDS = 3                # each member's most-liked films whose content neighbours join
NEIGHBOURS = 12          # content neighbours per such film
# a film on a member's watchlist is worth as much to them as their favourite unseen film
WATCHLIST_BENEFIT = 1.0

STRICT, NO_PREDICTED_DISLIKE, NONE = "strict", "predicted", "none"
NOTES = {
    NO_PREDICTED_DISLIKE: ("Nothing suits all of you, so I relaxed the veto: for each of these "
                           "films, someone's taste points the other way."),
    NONE: ("Nothing passed everyone's veto, so I relaxed it: some of these films were turned "
           "down by one of you (the reasons say who)."),
}


@dataclass
class Profile:
    """One member, resolved: their fold-in, scores for every model column, and what they
    have rated, vetoed and want to watch."""

    name: str
    ratings: dict[int, float]
    watchlist: list[int]
    fold: FoldIn | None
    scores: np.ndarray
    unknown: list[int] = field(default_factory=list)

    @property
    def seen(self) -> set[int]:
        return set(self.ratings)

    @property
    def vetoed(self) -> set[int]:
        return {m for m, r in self.ratings.items() if r <= NEGATIVE_AT}

    def liked(self) -> list[int]:
        """Liked films, most liked (then most recent) first."""
        order = sorted(enumerate(self.ratings.items()), key=lambda t: (-t[1][1], -t[0]))
        return [m for _, (m, r) in order if r >= POSITIVE_AT]


class PartyRecommender:
    """Group recommendations composed from the loaded collab (and content) recommenders.

    It has no artifacts of its own, so it is not a build stage in engine/components.py:
    `Engine.group_recommend` builds it from the version's collab and content recommenders
    (content optional: without it the candidates are watchlists and collab picks), and
    ``load`` does the same from a version directory. It follows the recommender contract
    (``name``, ``load``, ``recommend``, ``explain``) with `GroupQuery` as its query."""

    name: ClassVar[str] = "party"

    def __init__(self, collab: CollabRecommender, content, catalog: Catalog):
        self.collab, self.content, self.catalog = collab, content, catalog

    @classmethod
    def load(cls, dir: Path, catalog: Catalog) -> PartyRecommender:
        """``dir``: ``<version>/party`` (it need not exist: the parts are its siblings)."""
        version = Path(dir).parent
        collab = CollabRecommender.load(version / "collab", catalog)
        try:
            content = ContentIndex.load(version / "content", catalog)
        except ComponentMissing:
            content = None
        return cls(collab, content, catalog)

    # -- the contract ---------------------------------------------------------------
    def recommend(self, query: GroupQuery | Sequence[GroupMember], k: int = 5,
                  filters: Filters | None = None) -> Recommendations:
        check_k(k)
        query = as_group_query(query)
        filters = filters or Filters()
        fairness = query.fairness or aggregate.DEFAULT_FAIRNESS
        if fairness not in aggregate.FAIRNESS:
            raise InvalidInput(f"Unknown fairness “{fairness}”: use "
                               f"{' or '.join(aggregate.FAIRNESS)}.")
        profiles = [self.profile(m) for m in query.members]
        resolved = ResolvedGroup(tuple(p.name for p in profiles), fairness=fairness,
                                 rewatch=query.rewatch,
                                 unknown_ids=sorted({u for p in profiles for u in p.unknown}))
        cols, movies, utility, level = self._pool(profiles, filters, query.rewatch)
        if level != STRICT:
            resolved.relaxed_veto, resolved.note = True, NOTES[level]
        if not movies:
            resolved.note = ("I found no film for this group with these filters: try fewer "
                             "filters, or allow rewatches.")
            return Recommendations(resolved, [], kind="party")
        order, scores = aggregate.rank(utility, max(3 * k, k + 10), fairness)
        picked = {movies[j].movie_id: (j, s) for j, s in zip(order, scores, strict=True)}
        chosen = list(diversify((movies[j] for j in order), k))
        results = []
        for movie in chosen:
            j, score = picked[movie.movie_id]
            results.append(Recommendation(movie, float(score),
                                          self._reason(profiles, movie, utility[:, j])))
        return Recommendations(resolved, results, kind="party")

    def explain(self, query: GroupQuery | Sequence[GroupMember], movie: Movie) -> str:
        query = as_group_query(query)
        profiles = [self.profile(m) for m in query.members]
        col = self.collab.columns([movie.movie_id])[0]
        utility = np.array([self._benefits(p, np.array([col]))[0]
                            for p in profiles])
        return self._reason(profiles, movie, utility)

    def onboarding(self, k: int = 8) -> list[Movie]:
        """Well-known, varied films (at most two per main genre, one per franchise) for a
        member with no history to pick favourites from."""
        return [r.movie for r in self.collab.onboarding(k).results]

    # -- members ----------------------------------------------------------------------
    def profile(self, member: GroupMember) -> Profile:
        watch, signals = [], []
        for pair in member.history:
            try:
                movie_id, signal = pair
                movie_id = int(movie_id)
            except (TypeError, ValueError):
                raise InvalidInput(f"“{pair}” is not a (movie id, rating) pair.") from None
            if isinstance(signal, str) and signal.strip().lower() == WATCHLIST:
                watch.append(movie_id)
            else:
                signals.append((movie_id, signal))
        ratings = History.from_pairs(signals).ratings
        fold = self.collab.fold_in(ratings)
        unknown = fold.unknown + [m for m in watch if m not in self.catalog]
        watch = [m for m in dict.fromkeys(watch) if m in self.catalog and m not in ratings]
        if fold.weights.size and (fold.weights > 0).any():
            scores = self.collab.scores(fold)
        else:
            # nothing liked yet: lean on what most people like, so this member neither
            # decides alone nor is ignored
            scores = np.log1p(self.collab.popularity).astype(np.float32)
        return Profile(member.name, fold.known, watch, fold, scores, unknown)

    # -- candidates -------------------------------------------------------------------
    def _candidates(self, profiles: list[Profile]) -> list[int]:
        ids: dict[int, None] = {}
        item_ids = self.collab.item_ids
        for p in profiles:
            ids.update(dict.fromkeys(p.watchlist))
            scores = p.scores.copy()
            seen_cols = self.collab.columns(list(p.seen))
            scores[seen_cols[seen_cols >= 0]] = -np.inf
            top = np.argpartition(-scores, min(PER_MEMBER, len(scores) - 1))[:PER_MEMBER]
            ids.update(dict.fromkeys(int(item_ids[c]) for c in top))
        if self.content is not None:
            for p in profiles:
                for movie_id in p.liked()[:SEEDS]:
                    ids.update(dict.fromkeys(self._neighbours(movie_id, p)))
        return [m for m in ids if m in self.catalog]

    def _neighbours(self, movie_id: int, profile: Profile) -> list[int]:
        try:
            recs = self.content.recommend(MovieQuery(self.catalog.movie(movie_id),
                                                     frozenset(profile.seen)), k=NEIGHBOURS)
        except NotIndexed:   # a film newer than the content index: no neighbours yet
            return []
        return [r.movie.movie_id for r in recs.results]

    def _benefits(self, profile: Profile, cols: np.ndarray) -> np.ndarray:
        unseen = np.ones(len(profile.scores), dtype=bool)
        seen_cols = self.collab.columns(list(profile.seen))
        unseen[seen_cols[seen_cols >= 0]] = False
        base = aggregate.benefit(profile.scores, unseen)
        return np.where(cols >= 0, base[np.maximum(cols, 0)], 0.0)

    def _pool(self, profiles: list[Profile], filters: Filters, rewatch: bool
              ) -> tuple[np.ndarray, list[Movie], np.ndarray, str]:
        """(model columns, movies, members x movies benefits, relaxation level) of the
        candidates that pass, at the strictest level that leaves any."""
        seen = set().union(*(p.seen for p in profiles))
        movies = [self.catalog.movie(m) for m in self._candidates(profiles)
                  if rewatch or m not in seen]
        movies = [m for m in movies if filters.accepts(m)]
        if not filters.is_empty() and len(movies) < 3:
            # filters starve the candidates: every film that passes them competes
            extra = [int(m) for m in self.collab.item_ids if m in self.catalog]
            movies += [self.catalog.movie(m) for m in extra
                       if (rewatch or m not in seen) and m not in {x.movie_id for x in movies}
                       and filters.accepts(self.catalog.movie(m))]
        ids = [m.movie_id for m in movies]
        cols = self.collab.columns(ids)
        utility = np.array([self._benefits(p, cols) for p in profiles]).reshape(
            len(profiles), len(ids))
        for r, p in enumerate(profiles):
            wanted = np.isin(ids, p.watchlist)
            utility[r, wanted] = np.maximum(utility[r, wanted], WATCHLIST_BENEFIT)
        vetoed = np.isin(ids, list(set().union(*(p.vetoed for p in profiles))))
        predicted = (utility < 0).any(axis=0) if len(ids) else np.zeros(0, bool)
        for level, keep in ((STRICT, ~vetoed & ~predicted), (NO_PREDICTED_DISLIKE, ~vetoed),
                            (NONE, np.ones(len(ids), bool))):
            if keep.any():
                k = np.flatnonzero(keep)
                return cols[k], [movies[i] for i in k], utility[:, k], level
        return cols, [], utility, STRICT

    def _reason(self, profiles: list[Profile], movie: Movie, utility: np.ndarray) -> str:
        anchors = [self.collab.reason_for(p.fold, [movie.movie_id])[0]
                   if p.fold is not None else None for p in profiles]
        detail = ""
        fan = int(np.argmax(utility))
        if self.content is not None and anchors[fan] is not None:
            detail = self.content.explain(MovieQuery(anchors[fan]), movie).split(" · ")[0]
        return group_reason(movie, [p.name for p in profiles], utility, anchors,
                            [p.ratings.get(movie.movie_id) for p in profiles],
                            [movie.movie_id in p.watchlist for p in profiles], detail)


def as_group_query(query: GroupQuery | Sequence[GroupMember]) -> GroupQuery:
    """A `GroupQuery` from itself or a sequence of members; friendly errors for the rest."""
    if not isinstance(query, GroupQuery):
        try:
            query = GroupQuery(tuple(query))
        except TypeError:
            raise InvalidInput("A party needs a list of members.") from None
    if not query.members:
        raise InvalidInput("A party needs at least one member.")
    if len(query.members) > MAX_MEMBERS:
        raise InvalidInput(f"A party can have at most {MAX_MEMBERS} members.")
    for m in query.members:
        if not isinstance(m, GroupMember):
            raise InvalidInput("Each party member needs a name and a history.")
        if not str(m.name).strip():
            raise InvalidInput("Each party member needs a name.")
    return query
