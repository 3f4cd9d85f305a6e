"""The component registry: the ONE list the Engine, the build, the report and the CLI read.

A new recommender is a package with ``SPEC = ComponentSpec(...)`` in its ``__init__.py``
(a serving class following engine/recommender.py, a build stage, optionally an evaluator
and a CLI) plus one line in ``STAGES`` below. Nothing is imported from a spec's targets
until it is used, so reading this list costs no start-up time.
"""

from __future__ import annotations

from . import collab, content, crossmedia, toprated
from .spec import ComponentSpec, StageSpec, load_target

__all__ = ["COMPONENTS", "STAGES", "ComponentSpec", "StageSpec", "component", "load_target",
           "stage"]

CATALOG = StageSpec("catalog", "engine.datasets.catalog_build:build_stage")
SONGS = StageSpec("songs", "engine.datasets.songs:build_stage", needs=("catalog",))

# Build order: a stage comes after every stage it needs (tests/test_components.py checks).
# Content comes before collab: collab gives films nobody rated their vectors from the
# fused content vectors (engine/collab/cold_items.py).
STAGES: tuple[StageSpec | ComponentSpec, ...] = (
    CATALOG,
    SONGS,
    content.SPEC,
    collab.SPEC,
    crossmedia.SPEC,
    toprated.SPEC,
)

# The recommenders, in build order.
COMPONENTS: tuple[ComponentSpec, ...] = tuple(s for s in STAGES if isinstance(s, ComponentSpec))


def component(name: str) -> ComponentSpec:
    for spec in COMPONENTS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def stage(name: str) -> StageSpec | ComponentSpec:
    for spec in STAGES:
        if spec.name == name:
            return spec
    raise KeyError(name)
