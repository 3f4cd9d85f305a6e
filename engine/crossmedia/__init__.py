"""Cross-media engine: songs to movies (and back) through a learned shared vibe space."""
