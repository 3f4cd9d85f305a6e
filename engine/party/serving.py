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
from threadpoolctl import threadpool_limits

from ..artifacts import read_manifest
from ..catalog import Catalog
from ..collab.diversity import diversify, title_stem
from ..collab.serving import CollabRecommender, FoldIn
from ..collab.signals import NEGATIVE_AT, POSITIVE_AT, History
from ..content.serving import ContentIndex
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
# a member with nothing liked: popularity scaled to about the best score of a member who
# liked a handful of films (0.2-0.3 with the full ALS build), so they neither decide alone
# nor are ignored
COLD_TOP = 0.25

NOTES = {
    aggregate.EXPLICIT_ONLY: ("Your tastes share no film I could find, so I relaxed the veto: "
                              "for each of these, someone's taste points the other way."),
    aggregate.NO_VETO: ("Nothing passed everyone's veto, so I relaxed it: some of these films "
                        "were turned down by one of you (the reasons say who)."),
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
    favourite: float             # their best score among films they have not rated
    unknown: list[int] = field(default_factory=list)
    seen_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

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
        built = read_manifest(version).get("components", {})
        if "collab" not in built:
            raise ComponentMissing("collab")
        collab = CollabRecommender.load(version / "collab", catalog)
        content = ContentIndex.load(version / "content", catalog) if "content" in built else None
        return cls(collab, content, catalog)

    # -- the contract ---------------------------------------------------------------
    def recommend(self, query: GroupQuery | Sequence[GroupMember], k: int = 5,
                  filters: Filters | None = None) -> Recommendations:
        # One BLAS thread: the batched content scores are small matrix products that
        # multi-threaded BLAS splits across cores a bot shares with other requests; on the
        # 2-core development machine under load that made a 4-member party 125 ms at p50
        # instead of 15 ms (benchmarks/bench_party.py with and without OMP_NUM_THREADS=1).
        with threadpool_limits(1, "blas"):
            return self._recommend(query, k, filters)

    def _recommend(self, query: GroupQuery | Sequence[GroupMember], k: int,
                   filters: Filters | None) -> Recommendations:
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
        movies, scores, utility, level = self._pool(profiles, filters, query.rewatch)
        if level != aggregate.STRICT:
            resolved.relaxed_veto, resolved.note = True, NOTES[level]
        if not movies:
            resolved.note = ("I found no film for this group with these filters: try fewer "
                             "filters, or allow rewatches.")
            return Recommendations(resolved, [], kind="party")
        # ranked beyond k so the franchise/director caps have films to fall back on
        order, gains = aggregate.rank(utility, max(3 * k, k + 10), fairness)
        gain = dict(zip(order.tolist(), gains.tolist(), strict=True))
        position = {movies[j].movie_id: j for j in order}
        chosen = [position[m.movie_id] for m in diversify((movies[j] for j in order), k)]
        if aggregate.DEFAULT_ORDER == "group":
            # the score a film is listed by: the members' mean raw score
            chosen = aggregate.group_order(chosen, scores).tolist()
            gain = dict(enumerate(scores.mean(axis=0).tolist()))
        results = [Recommendation(movies[j], float(gain[j]), self._reason(profiles, movies[j]))
                   for j in chosen]
        return Recommendations(resolved, results, kind="party")

    def explain(self, query: GroupQuery | Sequence[GroupMember], movie: Movie) -> str:
        query = as_group_query(query)
        profiles = [self.profile(m) for m in query.members]
        return self._reason(profiles, movie)

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
            # nothing liked yet: a mild taste for what most people like (COLD_TOP)
            pop = np.log1p(self.collab.popularity)
            scores = (COLD_TOP * pop / max(float(pop.max()), 1e-9)).astype(np.float32)
        seen_cols = self.collab.columns(list(fold.known))
        seen_cols = seen_cols[seen_cols >= 0]
        unseen = np.ones(len(scores), dtype=bool)
        unseen[seen_cols] = False
        favourite = float(scores[unseen].max()) if unseen.any() else 0.0
        return Profile(member.name, fold.known, watch, fold, scores, favourite, unknown,
                       seen_cols)

    # -- candidates -------------------------------------------------------------------
    def _candidates(self, profiles: list[Profile]) -> list[int]:
        ids: dict[int, None] = {}
        item_ids = self.collab.item_ids
        for p in profiles:
            ids.update(dict.fromkeys(p.watchlist))
            seen_cols = self.collab.columns(list(p.seen))
            top = aggregate.top_unseen(p.scores, seen_cols[seen_cols >= 0], PER_MEMBER)
            ids.update(dict.fromkeys(int(item_ids[c]) for c in top))
        if self.content is not None:
            # films newer than the content index have no neighbours yet
            seeds = [(self.catalog.movie(m), frozenset(p.seen)) for p in profiles
                     for m in p.liked()[:SEEDS] if m in self.content.row_of]
            for neighbours in self.content.neighbour_ids_many(seeds, NEIGHBOURS):
                ids.update(dict.fromkeys(neighbours))
        return [m for m in ids if m in self.catalog]

    def _scores(self, profile: Profile, cols: np.ndarray) -> np.ndarray:
        """The member's collaborative scores of model columns ``cols`` (0 for -1)."""
        return np.where(cols >= 0, profile.scores[np.maximum(cols, 0)], 0.0)

    def _utility(self, profiles: list[Profile], ids: list[int], cols: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, benefits), members x films; a film on a member's watchlist is worth
        as much to them as their favourite unseen film."""
        scores = np.array([self._scores(p, cols) for p in profiles]).reshape(
            len(profiles), len(ids))
        utility = np.zeros(scores.shape)
        for r, p in enumerate(profiles):
            utility[r] = aggregate.member_benefit(p.scores, p.seen_cols, cols)
            wanted = np.isin(ids, p.watchlist)
            utility[r, wanted] = np.maximum(utility[r, wanted],
                                            aggregate.favourite_benefit(p.favourite))
        return scores, utility

    def _pool(self, profiles: list[Profile], filters: Filters, rewatch: bool
              ) -> tuple[list[Movie], np.ndarray, np.ndarray, str]:
        """(movies, members x movies raw scores and benefits, relaxation level) of the
        candidates that pass, at the strictest level that leaves any."""
        seen = set().union(*(p.seen for p in profiles))
        movies = [self.catalog.movie(m) for m in self._candidates(profiles)
                  if rewatch or m not in seen]
        movies = [m for m in movies if filters.accepts(m)]
        if not filters.is_empty() and len(movies) < 3:
            # filters starve the candidates: every film that passes them competes
            have = {m.movie_id for m in movies}
            for movie_id in (int(m) for m in self.catalog.ids):
                if movie_id not in have and (rewatch or movie_id not in seen):
                    movie = self.catalog.movie(movie_id)
                    if filters.accepts(movie):
                        movies.append(movie)
        ids = [m.movie_id for m in movies]
        cols = self.collab.columns(ids)
        scores, utility = self._utility(profiles, ids, cols)
        vetoed = np.isin(ids, list(set().union(*(p.vetoed for p in profiles))))
        predicted = aggregate.predicted_dislike(scores, np.array([p.favourite for p in profiles]))
        # a sequel or another part of a series someone turned down: ALS reads a dislike as
        # mere absence, so the model alone may still rank it high for them
        turned_down = {title_stem(self.catalog.movie(m).title)
                       for p in profiles for m in p.vetoed if m in self.catalog}
        if turned_down:
            predicted |= np.array([title_stem(m.title) in turned_down for m in movies],
                                  dtype=bool)
        keep, level = aggregate.admissible(vetoed, predicted)
        k = np.flatnonzero(keep)
        return [movies[i] for i in k], scores[:, k], utility[:, k], level

    def _reason(self, profiles: list[Profile], movie: Movie) -> str:
        anchors = [self.collab.reason_for(p.fold, [movie.movie_id])[0]
                   if p.fold is not None else None for p in profiles]
        ratings = [p.ratings.get(movie.movie_id) for p in profiles]
        watching = [movie.movie_id in p.watchlist for p in profiles]
        # how keen each member is, read off their raw score whatever benefit ranks the
        # list: relative to their favourite unseen film's, a watchlist film counting as that
        col = self.collab.columns([movie.movie_id])
        favourites = aggregate.benefit(np.array([p.favourite for p in profiles]))
        keen = np.array([aggregate.benefit(self._scores(p, col))[0] for p in profiles])
        keen = np.where(watching, np.maximum(keen, favourites), keen)
        relative = keen / np.maximum(favourites, 1e-9)
        # the member the sentence leads with (as group_reason orders them) and the content
        # recommender's most specific fact between their liked film and the pick; its
        # co-like count and shared genres would repeat what the sentence already says
        detail = ""
        lead = [i for i in np.argsort(-relative, kind="stable")
                if ratings[i] is None and not watching[i] and anchors[i] is not None]
        if self.content is not None and lead:
            facts = [part for part in self.content.explain(MovieQuery(anchors[lead[0]]), movie)
                     .split(" · ") if not part.startswith(("fans of", "both "))]
            detail = facts[0] if facts else ""
        return group_reason(movie, [p.name for p in profiles], relative, anchors, ratings,
                            watching, detail)


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
