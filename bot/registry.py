"""The command registry: every chat command is declared once, on its handler.

    @COMMANDS.command("similar", "movies like that one",
                      Arg("title", "a movie title", greedy=True), FILTERS,
                      read=title_and_filters, choice=Action.more)
    async def cmd_similar(self, user, title="", filters=None): ...

A `CommandSpec` holds the name, the typed arguments, the help line, the handler, whether
only admins may use it, and its aliases. Everything that lists commands reads it: the
/help text (`Registry.help_lines`), the Discord slash and ``!`` prefix commands
(`bot.discord.commands`), and the command layer's dispatch (`CommandLayer.run` for typed
values from a slash command, `CommandLayer.run_text` for a chat line's arguments).

Arguments arrive either as typed values (a slash command's parameters: ``{"title": "heat",
"stars": 4.5}``) or as the text after the command in a chat line ("heat 4.5"), which the
spec's ``read`` function turns into the same typed values. Nothing is turned back into text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidInput
from engine.results import Filters

from .actions import Action
from .parsing import FILTER_HELP, parse_filters


@dataclass(frozen=True)
class Arg:
    name: str
    help: str                      # the slash parameter's description
    type: type = str               # str, float, or Filters (typed as "genre:crime after:1990")
    required: bool = True          # shown as <name> in /help (optional: [name])
    greedy: bool = False           # in a chat line it takes the rest of the line
    choices: tuple[str, ...] = ()  # a fixed set of values (a choice list on Discord)
    bounds: tuple[float, float] | None = None   # for numbers: lowest and highest value
    complete: str = ""             # "title": suggest catalog titles as it is typed (Discord)


FILTERS = Arg("filters", "optional filters, e.g. genre:crime after:1990 before:2005",
              type=Filters, required=False)


def _whole(name: str) -> Callable[[str], dict[str, Any]]:
    return lambda text: {name: text}


def _nothing(text: str) -> dict[str, Any]:
    return {}      # "/help me" is /help


@dataclass(frozen=True)
class CommandSpec:
    name: str
    help: str                                     # one line for /help and Discord
    handler: Callable[..., Any]                   # async (layer, user, **typed args) -> Reply
    args: tuple[Arg, ...] = ()
    read: Callable[[str], dict[str, Any]] = _nothing   # chat-line arguments -> typed values
    admin_only: bool = False
    aliases: tuple[str, ...] = ()
    # The button a "which movie did you mean?" choice gets: it re-runs this command.
    choice: Callable[[int], Action] = Action.info
    # True: the handler also gets ``chat`` (a `bot.commands.Chat`: where the command was
    # sent, and whether that is a group), for commands that act on a chat (/party).
    wants_chat: bool = False

    @property
    def usage(self) -> str:
        shown = []
        for arg in self.args:
            label = "|".join(arg.choices) if arg.choices else arg.name
            shown.append(f"<{label}>" if arg.required else f"[{label}]")
        return " ".join([f"/{self.name}", *shown])

    def help_line(self) -> str:
        return f"{self.usage} – {self.help}" + (" (admins only)" if self.admin_only else "")

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Typed values for the handler: unknown names are refused, filter text becomes
        `Filters`, missing optional values are left to the handler's defaults."""
        known = {a.name: a for a in self.args}
        out: dict[str, Any] = {}
        for name, value in values.items():
            arg = known.get(name)
            if arg is None:
                raise InvalidInput(f"/{self.name} has no “{name}”. Try /help.")
            if arg.type is Filters and isinstance(value, str):
                rest, value = parse_filters(value)
                if rest:
                    raise InvalidInput(f"“{rest}” is not a filter. {FILTER_HELP}")
            if value is not None:
                out[name] = value
        return out


@dataclass
class Registry:
    specs: dict[str, CommandSpec] = field(default_factory=dict)
    _names: dict[str, CommandSpec] = field(default_factory=dict)   # names and aliases
    # Button verbs handled outside bot/commands.py (a feature module such as bot/party.py
    # declares its own): verb -> async (layer, action, user, message_ref, event_id, chat).
    buttons: dict[str, Callable] = field(default_factory=dict)
    # Reactions a feature module takes before they count as feedback (👍 on a party message
    # joins it): async (layer, user, message_ref, emoji, added) -> True if it took it.
    reaction_hooks: list[Callable] = field(default_factory=list)

    def command(self, name: str, help: str, *args: Arg, read: Callable[[str], dict] | None = None,
                admin_only: bool = False, aliases: tuple[str, ...] = (),
                choice: Callable[[int], Action] = Action.info, wants_chat: bool = False) -> Callable:
        """Declare the decorated handler as the command ``name``."""
        if read is None:
            read = _whole(args[0].name) if len(args) == 1 and args[0].greedy else _nothing

        def declare(handler: Callable) -> Callable:
            spec = CommandSpec(name, help, handler, tuple(args), read, admin_only, aliases, choice,
                               wants_chat)
            for key in (name, *aliases):
                if key in self._names:
                    raise ValueError(f"/{key} is declared twice")
                self._names[key] = spec
            self.specs[name] = spec
            return handler
        return declare

    def button(self, verb: str) -> Callable:
        """Declare the decorated handler as what buttons of ``verb`` do."""
        def declare(handler: Callable) -> Callable:
            if verb in self.buttons:
                raise ValueError(f"button verb {verb!r} is declared twice")
            self.buttons[verb] = handler
            return handler
        return declare

    def reaction_hook(self, hook: Callable) -> Callable:
        self.reaction_hooks.append(hook)
        return hook

    def get(self, name: str) -> CommandSpec | None:
        return self._names.get(name)

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(self.specs.values())

    def help_lines(self) -> list[str]:
        return [spec.help_line() for spec in self]


# The one registry: bot/commands.py declares the core commands on CommandLayer's methods,
# bot/watch.py its own (/where, /country) as functions of the layer.
COMMANDS = Registry()
