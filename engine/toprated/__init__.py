"""Top rated: the best-loved films that pass the filters ("/top genre:crime before:1980").

The smallest recommender in the project, and the example of the component contract:
``build.py`` ranks the catalog once by a Bayesian average of its MovieLens ratings,
``serving.TopRated`` walks that ranking past the filters, ``cli.py`` adds `moviebot top`.
Registering it is this SPEC plus one line in engine/components.py.
"""

from engine.spec import ComponentSpec

SPEC = ComponentSpec(
    name="toprated",
    serving="engine.toprated.serving:TopRated",
    build="engine.toprated.build:build_stage",
    cli="engine.toprated.cli:register",
    needs=("catalog",),
)
