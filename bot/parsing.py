"""Reading what a user typed: commands, filters ("genre:comedy after:1990"), star
ratings and reaction emoji. Everything wrong with the input raises InvalidInput with a
sentence the user can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidInput
from engine.results import Filters

MAX_MESSAGE_CHARS = 1000
_COMMAND_RE = re.compile(r"^/(?P<name>[A-Za-z_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$", re.S)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_FILTER_RE = re.compile(r"\b(genre|year|after|before|votes):(\S+)", re.I)
# "--to 1960", "--genre comedy": command-line habits, not part of any title (a single dash
# is: the singer "-M-")
_OPTION_RE = re.compile(r"(?<!\S)--[A-Za-z][\w-]*")
FILTER_HELP = ("Filters look like this: genre:comedy after:1990 before:2000 year:1995 "
               "votes:100 (e.g. /similar heat genre:crime after:1990).")
_STARS_RE = re.compile(r"^(?P<title>.+?)\s+(?P<stars>\d+(?:[.,]\d+)?|★+½?)(?:\s*(?:/\s*5|stars?|★))?$")
# Reactions that count as feedback. Telegram only offers a fixed emoji set; Discord any.
LIKE_EMOJI = {"👍", "❤", "🔥", "😍", "🥰", "👏", "🤩", "💯", "⭐", "❤‍🔥", "🏆", "🍿"}
DISLIKE_EMOJI = {"👎", "💩", "🤮", "🥱", "😴", "🤡"}
_EMOJI_NOISE = re.compile("[\ufe0f\U0001f3fb-\U0001f3ff]")   # variation selector, skin tones


@dataclass(frozen=True)
class Command:
    name: str   # "info", "search", ... or "title" for a plain message
    args: str


@dataclass(frozen=True)
class Phrase:
    """What a plain chat line asks for: "info" about a title, "similar" films, or "help"."""

    intent: str
    title: str = ""
    era: str = ""    # "older" / "newer": "heat but older"
    whole_series: bool = False   # "all star wars films": the whole series, uncapped


# "movies like heat", "something like heat", "similar to heat", "films similar to heat?"
_LIKE_RE = re.compile(
    r"^(?:(?:(?:show|give|find|recommend|suggest)(?: me)?|i want|i'd like|any|some|more|other|"
    r"good)\s+)*(?:(?:movies?|films?|something|anything|stuff|titles?)\s+(?:(?:just|a bit|kind of)\s+)?"
    r"(?:like|similar to)|similar to|more like)\s+(?P<title>.+)$", re.I)
_ERA_RE = re.compile(r"^(?P<title>.+?)[\s,]+but\s+(?P<era>older|newer|more recent|recent|earlier|later)$",
                     re.I)
# "all star wars films", "show me every harry potter movie", "all of the alien films"
_ALL_RE = re.compile(
    r"^(?:(?:show|give|list|find)(?: me)?\s+)?(?:all|every)(?:\s+of)?(?:\s+the)?\s+"
    r"(?P<title>.+?)\s+(?:movies?|films?)$", re.I)
_TRAILING_PUNCT = re.compile(r"[\s?!.]+$")
# A line made only of these words is small talk, not a title ("hello", "thanks!").
CHITCHAT = frozenset("""hi hello hey heya hiya yo howdy hallo greetings sup thanks thank you
thx ty cheers ok okay cool nice great good morning evening afternoon how are whats what's up
doing there bot moviebot please help can do what who is this u r anyone hows how's""".split())


def read_phrase(text: str) -> Phrase:
    """Read a plain (non-command) line as a film lover means it."""
    line = _TRAILING_PUNCT.sub("", " ".join(text.split()))
    words = re.findall(r"[\w']+", line.lower())
    if not words or (len(words) <= 6 and all(w in CHITCHAT for w in words)):
        return Phrase("help")
    era = ""
    if match := _ERA_RE.match(line):
        line, era = match["title"], match["era"].lower()
        era = "older" if era in ("older", "earlier") else "newer"
    if not era and (match := _ALL_RE.match(line)):
        return Phrase("similar", match["title"].strip(" \"“”'"), whole_series=True)
    if match := _LIKE_RE.match(line):
        return Phrase("similar", match["title"].strip(" \"“”'"), era)
    return Phrase("similar" if era else "info", line, era)


def clean_text(text: str) -> str:
    """Drop control and zero-width characters; keep every script and emoji."""
    return _CONTROL_RE.sub("", text or "").strip()


def parse(text: str, bot_username: str = "") -> Command | None:
    """Read one message. None means "not for me" (a command addressed to another bot)."""
    if len(text or "") > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"That message is too long ({len(text):,} characters); "
                           f"please keep it under {MAX_MESSAGE_CHARS}.")
    text = clean_text(text)
    if not text:
        raise InvalidInput("Send me a movie title, or /help to see what I can do.")
    if not text.startswith("/"):
        return Command("title", text)
    match = _COMMAND_RE.match(text)
    if not match:
        raise InvalidInput("That doesn't look like a command I know. Try /help.")
    if match["bot"] and bot_username and match["bot"].lower() != bot_username.lower():
        return None
    return Command(match["name"].lower(), (match["args"] or "").strip())


def parse_filters(args: str) -> tuple[str, Filters]:
    """Split "heat genre:crime after:1990" into ("heat", Filters(...))."""
    filters = Filters()
    for key, value in _FILTER_RE.findall(args):
        key = key.lower()
        if key == "genre":
            filters.genres.extend(g for g in value.replace("_", " ").split(",") if g)
        elif key == "votes":
            filters.min_votes = _int(value, "votes")
        elif key == "after":
            filters.year_min = _year(value)
        elif key == "before":
            filters.year_max = _year(value)
        elif key == "year":
            low, _, high = value.partition("-")
            filters.year_min = _year(low)
            filters.year_max = _year(high) if high else filters.year_min
    rest = _FILTER_RE.sub("", args).strip()
    if option := _OPTION_RE.search(rest):
        raise InvalidInput(f"I don't know the option “{option.group()}”. {FILTER_HELP}")
    return " ".join(rest.split()), filters


def _int(value: str, what: str) -> int:
    if not value.isdigit():
        raise InvalidInput(f"“{value}” is not a number ({what}).")
    return int(value)


def _year(value: str) -> int:
    year = _int(value, "year")
    if not 1870 <= year <= 2100:
        raise InvalidInput(f"{year} doesn't look like a year.")
    return year


def parse_rating(args: str) -> tuple[str, float]:
    """"Heat 4.5" -> ("Heat", 4.5); stars must be 0.5..5 in half steps."""
    match = _STARS_RE.match(args.strip())
    if not match:
        raise InvalidInput("Give a title and 0.5-5 stars, for example: /rate Heat 4.5")
    stars_text = match["stars"]
    if stars_text.startswith("★"):
        stars = stars_text.count("★") + (0.5 if stars_text.endswith("½") else 0.0)
    else:
        stars = float(stars_text.replace(",", "."))
    return match["title"].strip(), check_stars(stars)


def check_stars(stars: float) -> float:
    """0.5..5 in half steps (typed in a chat line or given as a slash parameter)."""
    if not 0.5 <= stars <= 5 or (stars * 2) != int(stars * 2):
        raise InvalidInput("Ratings go from 0.5 to 5 stars, in half stars (e.g. 3.5).")
    return float(stars)


def emoji_signal(emoji: str) -> str | None:
    """"like", "dislike", or None for a reaction that says nothing about taste."""
    bare = _EMOJI_NOISE.sub("", emoji or "")
    if bare in LIKE_EMOJI or emoji in LIKE_EMOJI:
        return "like"
    if bare in DISLIKE_EMOJI or emoji in DISLIKE_EMOJI:
        return "dislike"
    return None

