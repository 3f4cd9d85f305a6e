"""Cross-media engine: songs to movies (and back) through a learned shared vibe space."""

from engine.spec import ComponentSpec

SPEC = ComponentSpec(
    name="crossmedia",
    serving="engine.crossmedia.serving:VibeIndex",
    build="engine.crossmedia.build:build_stage",
    evaluate="engine.crossmedia.evaluate:evaluate",
    cli="engine.crossmedia.cli:register",
    needs=("catalog", "songs"),
)
