"""Platform-neutral reply models: the command layer builds these, renderers draw them.

Telegram, Discord and the console only translate these into their own widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .actions import Action

# The one apology for an unexpected error (a bug, a platform hiccup): never a traceback.
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
# What a button whose payload is not (or no longer) ours answers.
EXPIRED = "That button has expired. Try the command again."


def plural(n: int, word: str, many: str = "") -> str:
    """``n`` and ``word`` in the form that fits it: the one place count words are made.

    plural(1, "rating") -> "1 rating"; plural(3, "rating") -> "3 ratings";
    plural(2, "entry", "entries") -> "2 entries".
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"


def taste_source(history: list[tuple[int, str | float]]) -> str:
    """What /recommend picked from, said as a person would: "your 1 rating",
    "your 2 👍/👎", "3 movies you rated or reacted to" (ratings are numbers, reactions
    are "like"/"dislike": see `FeedbackStore.history`)."""
    ratings = sum(1 for _, signal in history if not isinstance(signal, str))
    reactions = len(history) - ratings
    if not reactions:
        return f"your {plural(ratings, 'rating')}"
    if not ratings:
        return f"{plural(reactions, 'movie')} you reacted to"
    return f"{plural(len(history), 'movie')} you rated or reacted to"


@dataclass
class Button:
    label: str
    # What pressing it does (`bot.actions`): Action.like(318), Action.page(...). The
    # renderers put ``action.encode()`` (at most 64 bytes) into the platform's button.
    action: Action | None = None
    url: str = ""  # a link button (trailer) instead of an action
    row: int | None = None  # keep buttons with the same row together (None: fill rows)


@dataclass
class Card:
    """One movie (or song) in a reply; every card can be reacted to on its own."""

    title: str
    subtitle: str = ""          # "1995 · Animation, Comedy · ★ 3.9"
    body: str = ""              # overview excerpt or facts
    reason: str = ""            # "shares director Christopher Nolan"
    image_url: str = ""         # poster
    link_url: str = ""          # trailer or IMDb
    movie_id: int | None = None
    buttons: list[Button] = field(default_factory=list)


@dataclass
class Reply:
    text: str = ""
    cards: list[Card] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)   # reply-level (paging, choices)
    is_error: bool = False
    # Context the front-end persists with the sent messages so that a reaction days
    # later still resolves (e.g. {"command": "similar", "query_movie_id": 318}).
    context: dict = field(default_factory=dict)
    # An answer to a button press that redraws the message the button is on (a party's
    # member list, live vote counts) instead of sending a new one; ``notice`` is then
    # said privately to the presser (a toast / an ephemeral message).
    replace: bool = False
    notice: str = ""
    # Remember the (text) message too, with ``context``, though it shows no movie: a 👍 on
    # a party's message joins that party.
    remember: bool = False
