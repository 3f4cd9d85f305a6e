"""Collaborative recommender: personal picks for any user from their own ratings and thumbs.

Layout (each module small on purpose; docs/collab.md has the design and the numbers):
  signals.py       parse "318:5,260:like" histories; signals -> signed confidences
  interactions.py  MovieLens ratings + chat feedback -> one weighted user x item matrix
  models/          popularity, ALS, EASE, autoencoder (numpy fold-in); biased MF and
                   item-kNN-baseline star-rating predictors and their blend
  train_autoencoder.py  the only TensorFlow code (training the autoencoder)
  split.py / metrics.py / ranking_eval.py   the held-out-users protocol and its metrics
  vectors.py       the Annoy index (inner product through the extra-dimension transform)
  cold_items.py    vectors for films nobody rated, from their fused-content neighbours
  diversity.py     at most one film per franchise (title stem), two per director
  serving.py       CollabRecommender: load(dir, catalog).recommend(history, k, filters)
  build.py         the `collab` build stage;  evaluate.py + peers.py  `moviebot eval collab`
  cli.py           `moviebot recommend`, `moviebot eval collab`
"""

from engine.spec import ComponentSpec

SPEC = ComponentSpec(
    name="collab",
    serving="engine.collab.serving:CollabRecommender",
    build="engine.collab.build:build_stage",
    evaluate="engine.collab.evaluate:evaluate",
    cli="engine.collab.cli:register",
    needs=("catalog", "content"),   # cold films' vectors come from the fused content vectors
)
