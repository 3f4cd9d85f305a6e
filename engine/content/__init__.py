"""The content engine: "movies like X" from text, people and metadata.

Build side (``build.py``): ``text`` + ``train_encoder`` (BiLSTM genre model, TensorFlow),
``tfidf`` (TF-IDF + SVD), ``metadata`` (numeric features), ``fusion`` (weights chosen on
validation users), ``index`` (Annoy). Serving side (``serving.ContentIndex``) needs only
numpy + annoy + the catalog. See docs/content.md.
"""
