"""The component contract: the registry, the one k rule, the one missing-file error, explain."""

from __future__ import annotations

import shutil

import pytest

from engine.artifacts import component_files
from engine.components import COMPONENTS, STAGES, component
from engine.errors import DataError, InvalidInput
from engine.queries import HistoryQuery, MovieQuery, ResolvedSong, SongQuery
from engine.recommender import MAX_K, check_k
from engine.spec import load_target
from engine.toprated.serving import TopQuery


def test_stages_are_in_build_order_and_name_importable_targets():
    names = [s.name for s in STAGES]
    assert len(set(names)) == len(names)
    for i, spec in enumerate(STAGES):
        assert set(spec.needs) <= set(names[:i]), f"{spec.name} needs a later stage"
    assert [c.name for c in COMPONENTS] == ["content", "collab", "crossmedia", "toprated"]
    for spec in COMPONENTS:
        cls = load_target(spec.serving)
        assert cls.name == spec.name
        assert all(callable(getattr(cls, m, None)) for m in ("load", "recommend", "explain"))
        assert callable(load_target(spec.build)) and callable(load_target(spec.cli))
        assert spec.evaluate in (None, f"engine.{spec.name}.evaluate:evaluate")
    assert component("collab").serving.endswith(":CollabRecommender")


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 2.5, "10", True])
def test_one_k_rule(k):
    with pytest.raises(InvalidInput, match=f"between 1 and {MAX_K}"):
        check_k(k)


def test_k_rule_is_the_same_for_every_recommender(engine):
    heat = MovieQuery(engine.resolve("Heat"))
    queries = {"content": heat, "collab": HistoryQuery(((1, "like"),)),
               "crossmedia": SongQuery("Hello - Adele"), "toprated": TopQuery()}
    assert set(queries) == {c.name for c in COMPONENTS}
    for name, query in queries.items():
        assert len(engine.recommend(name, query, k=MAX_K).results) <= MAX_K
        with pytest.raises(InvalidInput):
            engine.recommend(name, query, k=MAX_K + 1)


def test_missing_file_is_one_data_error_naming_file_component_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        component_files(tmp_path, "collab", ["collab.json"])
    text = str(err.value)
    assert str(tmp_path / "collab.json") in text and "collab" in text
    assert "moviebot build --only collab" in text


@pytest.mark.parametrize("name,missing", [("content", "vectors.npy"),
                                          ("collab", "item_ids.npy"),
                                          ("crossmedia", "movies_vectors.npy"),
                                          ("toprated", "scores.npy")])
def test_an_old_build_without_a_file_gets_the_same_error(quick_artifacts, tmp_path, name, missing):
    from engine import Engine

    copy = tmp_path / "copy"
    shutil.copytree(quick_artifacts, copy, symlinks=True)
    engine = Engine.load(copy)
    (engine.version_dir / name / missing).unlink()
    with pytest.raises(DataError) as err:
        Engine.load(copy).recommender(name)
    assert missing in str(err.value) and f"--only {name}" in str(err.value)


def test_explain_gives_the_listed_reason(engine):
    queries = {"content": MovieQuery(engine.resolve("Toy Story")),
               "collab": HistoryQuery(((260, 5), (1196, 5), (1210, "like"), (2571, 4))),
               "crossmedia": SongQuery("Bohemian Rhapsody - Queen"), "toprated": TopQuery()}
    assert set(queries) == {c.name for c in COMPONENTS}
    for name, query in queries.items():
        recommender = engine.recommender(name)
        for rec in engine.recommend(name, query, k=5).results:
            assert recommender.explain(query, rec.movie) == rec.reason, name
    cold = HistoryQuery(((1, "like"),))
    for rec in engine.recommend("collab", cold, k=5).results:
        assert engine.recommender("collab").explain(cold, rec.movie) == rec.reason


def test_resolved_queries_keep_the_json_keys(engine):
    recs = engine.recommend("crossmedia", SongQuery("Bohemian Rhapsody - Queen"), k=3)
    assert isinstance(recs.query, ResolvedSong)
    assert set(recs.to_json()["query"]) == {"song", "artist", "track_id", "mood"}
    vibe = engine.recommend("crossmedia", SongQuery("vibe energy=0.8 valence=0.2"), k=3)
    assert set(vibe.to_json()["query"]) == {"vibe", "mood"}
    similar = engine.recommend("content", MovieQuery(engine.resolve("Heat")), k=3)
    assert set(similar.to_json()["query"]) == {"movie_id", "title", "year"}
    warm = engine.recommend("collab", HistoryQuery(((260, 5), (1196, 5), (2571, 4))), k=3)
    assert set(warm.to_json()["query"]) == {"history", "known", "unknown_ids", "model",
                                            "cold_start"}
    with pytest.raises(KeyError):
        engine.recommender("nope")


class _Payload:
    """Unpickling this would create ``marker``: proof that a data file ran code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_npy_in_the_artifacts_is_refused_and_never_run(quick_artifacts, tmp_path):
    import numpy as np

    from engine import Engine

    copy = tmp_path / "copy"
    shutil.copytree(quick_artifacts, copy, symlinks=True)
    engine = Engine.load(copy)
    assert np.load(engine.version_dir / "crossmedia" / "song_ids.npy").dtype.kind == "U"
    marker = tmp_path / "pwned"
    planted = np.array([_Payload(str(marker))], dtype=object)
    (engine.version_dir / "crossmedia" / "song_ids.npy").unlink()   # a hard link: never write through it
    np.save(engine.version_dir / "crossmedia" / "song_ids.npy", planted, allow_pickle=True)
    with pytest.raises(DataError) as err:
        Engine.load(copy).recommender("crossmedia")
    assert "song_ids.npy" in str(err.value) or "crossmedia" in str(err.value)
    assert not marker.exists()
