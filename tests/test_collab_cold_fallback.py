"""Films nobody rated: collab gives them vectors from their fused-content neighbours, so the
content stage builds first, `--only collab` reuses it, and catalog updates do the same."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from engine import artifacts
from engine.build_context import BuildContext
from engine.collab import build as collab_build
from engine.collab.cold_items import fused_neighbours, load_fused
from engine.collab.models import MODELS
from engine.components import STAGES
from engine.errors import DataError


def _model(version):
    meta = json.loads((version / "collab" / "collab.json").read_text())
    return MODELS[meta["default"]].load(version / "collab" / "model"), meta


def _rows(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(ids, wanted)
    assert (ids[pos] == wanted).all()
    return pos


def test_content_is_built_before_collab_which_needs_it():
    names = [s.name for s in STAGES]
    collab = STAGES[names.index("collab")]
    assert "content" in collab.needs
    assert names.index("content") < names.index("collab")


def test_fused_neighbours_weight_the_nearest_rated_films_by_cosine():
    ids = np.array([1, 2, 3, 4, 5, 6])
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.5, 0.5], [-1, -0.1]], np.float32)
    warm = np.array([1, 3, 4])
    reached, W = fused_neighbours(ids, vectors, warm, np.array([2, 5, 7]), k=2)
    # 7 has no vector: left out, as a film TF-IDF could not reach was
    assert reached.tolist() == [2, 5]
    W = W.toarray()
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-6)
    assert W[0, 0] > 0.85 and W[0, 2] == 0          # mostly film 1, never the opposite film 4
    np.testing.assert_allclose(W[1], [0.5, 0.5, 0.0], atol=1e-6)
    equal = fused_neighbours(ids, vectors, warm, np.array([2]), k=2, power=0.0)[1].toarray()
    np.testing.assert_allclose(equal, [[0.5, 0.5, 0.0]], atol=1e-6)
    # a film whose only neighbour points away gets no vector rather than a negative blend
    none, _ = fused_neighbours(ids, vectors, np.array([4]), np.array([1]), k=1)
    assert len(none) == 0


def test_collab_without_content_says_build_content_first(tmp_path, data_dir, catalog_frame):
    ctx = BuildContext(data_dir=data_dir, out_dir=tmp_path / "v1", quick=True, progress=False,
                       tables={"catalog": catalog_frame})
    with pytest.raises(DataError, match="build content first") as err:
        collab_build.build_stage(ctx)
    assert "--only content --only collab" in str(err.value)
    assert not (tmp_path / "v1" / "collab").exists()   # it stopped before training anything


def test_only_collab_reuses_content_and_serves_the_fused_fallback(quick_artifacts, tmp_path,
                                                                  data_dir, monkeypatch):
    from jobs.build import run_build

    previous = artifacts.current_version(quick_artifacts)
    calls = []

    def recording(vector_ids, vectors, warm_ids, cold_ids, **kw):
        out = fused_neighbours(vector_ids, vectors, warm_ids, cold_ids, **kw)
        calls.append((np.asarray(vector_ids), np.asarray(vectors), np.asarray(warm_ids), *out))
        return out

    monkeypatch.setattr(collab_build, "fused_neighbours", recording)
    ctx = BuildContext(data_dir=data_dir, out_dir=artifacts.new_version_dir(tmp_path), quick=True,
                       previous_dir=previous, progress=False)
    version = run_build(ctx, only=["collab"], publish=False)

    manifest = artifacts.read_manifest(version)
    # content was reused (the same file), and its fused vectors are what collab blended
    vectors = version / "content" / "vectors.npy"
    assert os.path.samefile(vectors, previous / "content" / "vectors.npy")
    (vector_ids, used, warm_ids, cold_ids, W), = calls
    np.testing.assert_array_equal(used, np.load(vectors))
    np.testing.assert_array_equal(vector_ids, np.load(version / "content" / "ids.npy"))
    assert len(cold_ids) > 100 and manifest["metrics"]["collab"]["content_only_items"] == len(cold_ids)

    # each cold film's served vector is the shrunk blend of its neighbours' trained vectors
    model, _ = _model(version)
    item_ids = np.load(version / "collab" / "item_ids.npy")
    warm, cold = _rows(item_ids, warm_ids), _rows(item_ids, cold_ids)
    for name in model.item_arrays:
        array = np.asarray(getattr(model, name))
        np.testing.assert_allclose(array[cold], 0.5 * (W @ array[warm]), rtol=1e-4, atol=1e-6)


def test_catalog_update_gives_new_films_their_fused_neighbours(quick_artifacts, tmp_path):
    from engine.collab.extend import extend

    previous = artifacts.current_version(quick_artifacts)
    out = tmp_path / "v2"
    with pytest.raises(DataError, match="build content first"):
        extend(previous, out, None, np.array([10_000_001]))

    # a new film whose content vector is a rated film's: that film is its nearest neighbour
    ids, vectors = load_fused(previous)
    item_ids = np.load(previous / "collab" / "item_ids.npy")
    popularity = np.load(previous / "collab" / "popularity.npy")
    twin = int(item_ids[np.argmax(popularity)])
    new_id = int(ids.max()) + 1
    (out / "content").mkdir(parents=True)
    np.save(out / "content" / "ids.npy", np.append(ids, new_id))
    np.save(out / "content" / "vectors.npy",
            np.vstack([vectors, vectors[np.flatnonzero(ids == twin)]]))
    extend(previous, out, None, np.array([new_id]))

    model, meta = _model(out)
    new_ids = np.load(out / "collab" / "item_ids.npy")
    assert new_id in new_ids and meta["content_only_items"] == _model(previous)[1][
        "content_only_items"] + 1
    trained = item_ids[popularity > 0]
    reached, W = fused_neighbours(np.append(ids, new_id), np.load(out / "content" / "vectors.npy"),
                                  trained, np.array([new_id]))
    assert trained[W.toarray().argmax()] == twin
    old, _ = _model(previous)
    for name in model.item_arrays:
        expected = 0.5 * (W @ np.asarray(getattr(old, name))[_rows(item_ids, trained)])
        np.testing.assert_allclose(np.asarray(getattr(model, name))[_rows(new_ids, reached)],
                                   expected, rtol=1e-4, atol=1e-6)
    shutil.rmtree(out)


def test_only_collab_on_a_version_missing_content_files_names_the_stage(quick_artifacts, tmp_path,
                                                                         data_dir):
    from jobs.build import run_build

    previous = tmp_path / "old" / artifacts.current_version(quick_artifacts).name
    shutil.copytree(artifacts.current_version(quick_artifacts), previous)
    (previous / "content" / "vectors.npy").unlink()
    ctx = BuildContext(data_dir=data_dir, out_dir=artifacts.new_version_dir(tmp_path / "new"),
                       quick=True, previous_dir=previous, progress=False)
    with pytest.raises(DataError, match="content stage lacks") as err:
        run_build(ctx, only=["collab"], publish=False)
    assert "vectors.npy" in str(err.value) and "--only content" in str(err.value)
