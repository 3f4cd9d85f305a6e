"""Artifact manifests list every file's sha256, verified when a version is loaded (issue
14, item 5): a file changed after the build (damaged, or planted on the volume the bot
and job containers share) is refused with a DataError that names it and the fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine import Engine
from engine.artifacts import MANIFEST, current_version
from engine.errors import DataError


@pytest.fixture
def version(quick_artifacts, tmp_path):
    """A private copy of the quick build's current version (the fixture is shared)."""
    copy = tmp_path / "artifacts" / current_version(quick_artifacts).name
    shutil.copytree(current_version(quick_artifacts), copy)
    return copy


def test_the_manifest_lists_every_file_with_its_sha256(version):
    listed = json.loads((version / MANIFEST).read_text())["files"]
    on_disk = {p.relative_to(version).as_posix() for p in version.rglob("*")
               if p.is_file() and p.name != MANIFEST}
    assert set(listed) == on_disk
    assert all(len(digest) == 64 for digest in listed.values())


def test_a_changed_component_file_is_refused_by_name(version):
    Engine.load(version).recommender("toprated")                 # intact: loads
    scores = version / "toprated" / "scores.npy"
    data = np.load(scores)
    np.save(scores, data[::-1].copy())                           # same shape, other content
    with pytest.raises(DataError) as err:
        Engine.load(version).recommender("toprated")
    message = str(err.value)
    assert "toprated/scores.npy" in message and "sha256" in message
    assert "moviebot build --only toprated" in message


def test_a_planted_pickle_is_refused_before_numpy_reads_it(version, tmp_path):
    """A pickled .npy in place of song_ids.npy never reaches np.load: its checksum fails
    (and np.load has allow_pickle=False behind that, see test_crossmedia)."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    target = version / "crossmedia" / "song_ids.npy"
    np.save(target, np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="song_ids.npy"):
        Engine.load(version).recommender("crossmedia")
    assert not marker.exists()


def test_a_changed_catalog_stops_the_load(version):
    with (version / "catalog.parquet").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(DataError, match="catalog.parquet"):
        Engine.load(version)


def test_a_version_built_before_checksums_still_loads(version):
    manifest = json.loads((version / MANIFEST).read_text())
    del manifest["files"]
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert Engine.load(version).recommender("toprated") is not None
