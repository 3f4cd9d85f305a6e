"""The content engine: "movies like X" from text, people and metadata.

Build side (``build.py``): ``text`` + ``train_encoder`` (BiLSTM genre model, TensorFlow),
``tfidf`` (TF-IDF + SVD), ``metadata`` (numeric features), ``fusion`` (weights chosen on
validation users), ``index`` (Annoy), ``facets`` (franchise, director, language facts) and
``hybrid`` (the served score: content + training users' co-likes + facts, weighted on
validation users; ``hybrid_eval`` scores it). Serving side (``serving.ContentIndex``) needs
only numpy + scipy + annoy + the catalog. See docs/content.md.
"""

from engine.spec import ComponentSpec

SPEC = ComponentSpec(
    name="content",
    serving="engine.content.serving:ContentIndex",
    build="engine.content.build:build_stage",
    evaluate="engine.content.evaluate:evaluate",
    cli="engine.content.cli:register",
    needs=("catalog",),
)
