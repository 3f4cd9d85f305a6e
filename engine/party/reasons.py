"""The sentence a group reads under each party pick, built only from evidence.

"Ann and Bo love sci-fi & thriller films like Alien and The Matrix; nobody has seen it":
the names are the members whose benefit from the film is high, the films are each one's
liked film that points to it most strongly in the collaborative model (the evidence behind
/recommend's "because you liked X"), the genres are those the pick shares with those
films, the part in brackets is the content recommender's strongest shared fact (director,
franchise, co-likes, themes), and the last part says who has rated or turned it down.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..results import Movie

# a member "loves" a pick when its benefit is at least this share of their favourite
# unseen film's; from ALSO_AT on, the pick "also fits" them
FAN_AT = 0.5
ALSO_AT = 0.25


def names(parts: Sequence[str]) -> str:
    """"Ann", "Ann and Bo", "Ann, Bo and Cy"."""
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def shared_genres(movie: Movie, liked: Sequence[Movie]) -> list[str]:
    """The pick's genres that every liked film has too; failing that, those most of them
    have (at least one)."""
    counts = {g: sum(g in m.genres for m in liked) for g in movie.genres}
    if not counts or not liked:
        return []
    everyone = [g for g, c in counts.items() if c == len(liked)]
    if everyone:
        return everyone
    top = max(counts.values())
    return [g for g, c in counts.items() if c == top and c > 0]


def group_reason(movie: Movie, members: Sequence[str], utility: np.ndarray,
                 anchors: Sequence[Movie | None], ratings: Sequence[float | None],
                 on_watchlist: Sequence[bool], detail: str = "") -> str:
    """``utility``: each member's benefit from ``movie``; ``anchors``: each member's liked
    film pointing to it (None: nothing liked); ``ratings``: each member's rating of it
    (None: not rated); ``detail``: a shared fact from the content recommender, or ""."""
    utility = np.asarray(utility, dtype=np.float64)
    order = [int(i) for i in np.argsort(-utility, kind="stable")]
    parts = []
    watchers = [i for i in range(len(members)) if on_watchlist[i]]
    if watchers:
        who = names([members[i] for i in watchers])
        parts.append(f"on {who}'s watchlist" if len(watchers) == 1
                     else f"on the watchlists of {who}")
    # a member who has rated the film (rewatch) speaks for it by their rating instead
    unrated = [i for i in order if ratings[i] is None and i not in watchers]
    lovers = [i for i in unrated if utility[i] >= FAN_AT and anchors[i] is not None]
    if not lovers and not watchers and unrated and anchors[unrated[0]] is not None \
            and utility[unrated[0]] > 0:
        # nobody is a fan: the member it suits best still says why, without overclaiming
        best = unrated[0]
        parts.append(f"closest to what {members[best]} liked ({anchors[best].title})")
    elif lovers:
        liked: dict[int, Movie] = {}
        for i in lovers:
            liked.setdefault(anchors[i].movie_id, anchors[i])
        films = list(liked.values())[:3]
        genres = [g.lower() for g in shared_genres(movie, films)][:2]
        verb = "loves" if len(lovers) == 1 else "love"
        kind = f"{' & '.join(genres)} films" if genres else "films"
        text = (f"{names([members[i] for i in lovers])} {verb} {kind} like "
                f"{names([m.title for m in films])}")
        if detail:
            text += f" ({detail})"
        parts.append(text)
        also = [i for i in unrated if ALSO_AT <= utility[i] < FAN_AT and anchors[i] is not None
                and i not in lovers]
        if also:
            parts.append("it also fits " + names([f"{members[i]} (who liked {anchors[i].title})"
                                                  for i in also[:2]]))
    elif not watchers:
        if movie.rating_count and movie.rating_mean:
            parts.append(f"a crowd-pleaser: {movie.rating_mean:.1f}★ from "
                         f"{movie.rating_count} MovieLens raters")
        else:
            parts.append("a well-known film")
    rated = [(members[i], r) for i, r in enumerate(ratings) if r is not None]
    if not rated:
        parts.append("nobody has seen it")
    else:
        parts.append(", ".join(f"{name} turned it down" if r <= 2 else f"{name} rated it {r:g}★"
                               for name, r in rated))
    cool = [members[i] for i in range(len(members)) if utility[i] <= 0 and ratings[i] is None]
    if cool:
        parts.append(f"{names(cool)} may be less keen")
    return "; ".join(parts)
