"""The component registry: every recommender, declared once.

Minimal version from the metrics stream (jobs/report.py reads ``evaluate``); the engine
stream's fuller registry replaces this file at merge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComponentSpec:
    name: str                    # registry key, also the artifacts sub-directory
    serving: str                 # "module:Class", imported lazily for start-up time
    build: str                   # "module:function", the build stage
    evaluate: str | None         # "module:function": evaluate(version_dir, data_dir, **options) -> EvalReport
    cli: str | None              # "module:register"
    needs: tuple[str, ...] = ()  # names of the stages it reads


COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec("content", "engine.content.serving:ContentIndex", "engine.content.build:build_stage",
                  "engine.content.evaluate:evaluate", "engine.content.cli:register", ("catalog",)),
    ComponentSpec("collab", "engine.collab.serving:CollabRecommender", "engine.collab.build:build_stage",
                  "engine.collab.evaluate:evaluate", "engine.collab.cli:register", ("catalog",)),
    ComponentSpec("crossmedia", "engine.crossmedia.serving:VibeIndex", "engine.crossmedia.build:build_stage",
                  "engine.crossmedia.evaluate:evaluate", "engine.crossmedia.cli:register",
                  ("catalog", "songs")),
)
