"""The content stage on only the openly downloadable files (no TMDB / IMDb metadata).

MovieLens + the ml-20m-youtube trailers + the TidyTuesday Spotify songs + the soundtrack
file: (almost) no overviews, so the encoder has nothing to learn from. The build must
still produce a working index from the blocks it has.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

OPEN_FILES = ("movielens/ml-latest-small", "movielens/ml-20m-youtube",
              "spotify/tidytuesday_2020-01-21_spotify_songs", "movie_soundtracks_imdb")


@pytest.fixture(scope="module")
def reduced_build(tmp_path_factory, data_dir):
    from engine.build_context import BuildContext
    from engine.content.build import build_stage
    from engine.datasets.catalog_build import build_catalog

    reduced = tmp_path_factory.mktemp("open_data")
    for rel in OPEN_FILES:
        (reduced / rel).parent.mkdir(parents=True, exist_ok=True)
        (reduced / rel).symlink_to(Path(data_dir) / rel)
    catalog = build_catalog(reduced)
    out = tmp_path_factory.mktemp("reduced_version")
    ctx = BuildContext(data_dir=reduced, out_dir=out, quick=True, progress=False,
                       tables={"catalog": catalog})
    return catalog, out, build_stage(ctx)


def test_content_builds_without_tmdb_metadata(reduced_build):
    catalog, out, entry = reduced_build
    assert (catalog["overview"] != "").mean() < 0.05  # the situation this test is about
    for rel in entry["files"]:
        assert (out / rel).is_file(), rel
    config = json.loads((out / "content" / "content.json").read_text())
    assert config["weights"]["bilstm"] == 0.0  # nothing to learn from, so never weighted
    assert np.load(out / "content" / "bilstm.npy").shape[0] == len(catalog)
    table = entry["metrics"]["eval_test_users"]
    assert table["fused (served)"]["ndcg@10"] > 0


def test_reduced_index_serves_similar_movies(reduced_build):
    from engine.catalog import Catalog
    from engine.content.serving import ContentIndex
    from engine.queries import MovieQuery

    catalog, out, _ = reduced_build
    index = ContentIndex.load(out / "content", Catalog(catalog))
    toy_story = index.catalog.resolve("Toy Story")
    recs = index.recommend(MovieQuery(toy_story), k=10)
    ids = [r.movie.movie_id for r in recs.results]
    assert len(ids) == 10 and len(set(ids)) == 10 and toy_story.movie_id not in ids
    # genres are all the open data has: most neighbours of Toy Story share one with it
    shared = sum(bool(set(r.movie.genres) & set(toy_story.genres)) for r in recs.results)
    assert shared >= 8
