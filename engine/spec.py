"""The records the component registry (engine/components.py) is made of.

Kept apart from the registry so that a package's ``__init__`` can declare its ``SPEC``
without importing the registry that imports it (no cycle), and so that declaring a spec
imports nothing heavy: every target is a "module:attribute" string, imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


def load_target(target: str) -> Any:
    """The object a "module:attribute" string names (imported now)."""
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class StageSpec:
    """A build stage that is not a recommender (the catalog, the songs table)."""

    name: str
    build: str                      # "module:function(ctx: BuildContext) -> StageResult"
    needs: tuple[str, ...] = ()     # stages whose output (ctx.tables) it reads


@dataclass(frozen=True)
class ComponentSpec:
    """A recommender package: its build stage, serving class, evaluator and CLI."""

    name: str                       # registry key: a folder of each built version, a manifest key
    serving: str                    # "module:Class" implementing engine.recommender.Recommender
    build: str                      # "module:function(ctx: BuildContext) -> StageResult"
    evaluate: str | None = None     # "module:function(version_dir, data_dir, **options)"
    cli: str | None = None          # "module:register(groups)" adding its `moviebot` commands
    needs: tuple[str, ...] = ()     # stages whose output it reads
