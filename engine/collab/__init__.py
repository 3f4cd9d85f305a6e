"""Collaborative recommender: personal picks for any user from their own ratings and thumbs.

Layout (each module small on purpose):
  signals.py       parse "318:5,260:like" histories and turn signals into confidences
  interactions.py  MovieLens ratings + chat feedback -> one weighted user x item matrix
  models/          popularity, ALS, EASE, biased MF (ratings), autoencoder (numpy fold-in)
  train_autoencoder.py  the only TensorFlow code (training the autoencoder)
  metrics.py       ranking / rating metrics for the held-out-users protocol
  vectors.py       the Annoy index (inner product through the extra-dimension transform)
  serving.py       CollabRecommender: load(dir, catalog).recommend(history, k, filters)
  build.py         the `collab` build stage;  evaluate.py  `moviebot eval collab`
"""
