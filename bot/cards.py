"""Movie cards and choice buttons: how an engine result becomes a platform-neutral Reply."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import AmbiguousTitle, UnknownTitle
from engine.results import Filters, Movie

from .actions import Action
from .replies import Button, Card, Reply, plural

GROUP_LIST_MAX = 5     # films per group list message (Discord: 5 rows of buttons at most)


def movie_subtitle(movie: Movie, all_genres: bool = False) -> str:
    parts = []
    if movie.year:
        parts.append(str(movie.year))
    if movie.genres:
        parts.append(", ".join(movie.genres if all_genres else movie.genres[:3]))
    if movie.rating_mean and movie.rating_count:
        parts.append(f"★ {movie.rating_mean:.1f}/5 ({plural(movie.rating_count, 'rating')})")
    elif movie.vote_average and movie.vote_count:
        parts.append(f"TMDB {movie.vote_average:.1f}/10")
    if movie.runtime:
        parts.append(f"{int(movie.runtime)} min")
    return " · ".join(parts)


def movie_card(movie: Movie, reason: str = "", full: bool = False) -> Card:
    body = movie.overview or movie.tagline
    if not full and len(body) > 280:
        body = body[:277].rsplit(" ", 1)[0] + "…"
    facts = []
    if movie.directors:
        facts.append("Director: " + ", ".join(movie.directors[:2]))
    if movie.cast:
        facts.append("Starring: " + ", ".join(movie.cast[: 5 if full else 3]))
    if facts:
        body = (body + "\n" if body else "") + " · ".join(facts)
    buttons = [Button("👍", Action.like(movie.movie_id)), Button("👎", Action.dislike(movie.movie_id)),
               Button("More like this", Action.more(movie.movie_id))]
    if movie.trailer_url:
        buttons.append(Button("Trailer", url=movie.trailer_url))
    buttons.append(Button("➕ Watchlist", Action.watch(movie.movie_id)))
    return Card(title=movie.label, subtitle=movie_subtitle(movie, all_genres=full), body=body, reason=reason,
                image_url=movie.poster_url, link_url=movie.trailer_url or movie.imdb_url,
                movie_id=movie.movie_id, buttons=buttons)


def title_error_reply(err: UnknownTitle | AmbiguousTitle, choice: Callable[[int], Action]) -> Reply:
    """Unknown titles get suggestions, ambiguous ones a choice; both as tappable buttons
    (``choice(movie_id)``: the action that re-runs the command for the picked movie)."""
    options = err.candidates if isinstance(err, AmbiguousTitle) else err.suggestions
    if err.kind == "song":  # a song choice re-runs /song with the exact Spotify track
        return Reply(text=str(err), is_error=True,
                     buttons=[Button(c.label, Action.song(c.ref)) for c in options
                              if c.ref and Action.is_track(c.ref)])
    return Reply(text=str(err), is_error=True,
                 buttons=[Button(c.label, choice(c.movie_id)) for c in options])


def filters_label(filters: Filters) -> str:
    """"crime or thriller films from 1990 to 1999": a list heading in words."""
    label = (" or ".join(g.lower() for g in filters.genres) + " " if filters.genres else "") + "films"
    low, high = filters.year_min, filters.year_max
    if low is not None and high is not None:
        label += f" of {low}" if low == high else f" from {low} to {high}"
    elif low is not None:
        label += f" from {low} on"
    elif high is not None:
        label += f" up to {high}"
    if filters.min_votes:
        label += f" with {filters.min_votes}+ votes"
    return label


def group_list(reply: Reply) -> Reply:
    """A reply of several cards as one message for a group: the heading, a numbered list
    (title, facts, the reason), and per film a row of buttons (details, 👍, 👎); paging goes
    in the last row. A group sees one message per request instead of one per film, at the
    price of 👍/👎 *reactions* (a reaction on a list cannot say which film): the numbered
    buttons carry the feedback instead. One card, or none, is sent as it is."""
    if len(reply.cards) <= 1:
        return reply
    cards = reply.cards[:GROUP_LIST_MAX]
    lines = [reply.text] if reply.text else []
    buttons: list[Button] = []
    for i, card in enumerate(cards, 1):
        lines.append(f"{i}. {card.title}" + (f" · {card.subtitle}" if card.subtitle else ""))
        if card.reason:
            lines.append(f"   💡 {card.reason}")
        if card.movie_id is not None:
            buttons += [Button(f"{i}. {card.title}", Action.info(card.movie_id), row=i - 1),
                        Button(f"👍 {i}", Action.like(card.movie_id), row=i - 1),
                        Button(f"👎 {i}", Action.dislike(card.movie_id), row=i - 1)]
    last = max(len(cards) - 1, 0)
    buttons += [Button(b.label, b.action, b.url, row=last) for b in reply.buttons]
    return Reply(text="\n".join(lines), buttons=buttons, is_error=reply.is_error,
                 context={**reply.context, "movie_ids": [c.movie_id for c in cards]},
                 remember=True)
