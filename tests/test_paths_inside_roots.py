"""Paths stay inside their roots (issue 14, item 6): a crafted data manifest (``..``,
absolute paths), a symlink planted in the data directory or in a mirror, and artifacts
whose ``current`` pointer or component files lead elsewhere are all refused with a
DataError, and nothing outside is read or written."""

from __future__ import annotations

import json
import os

import pytest

from engine.artifacts import MANIFEST, component_files, current_version
from engine.datasets.manifest import load_manifest, resolve_inside, safe_relative
from engine.errors import DataError
from jobs.fetch import fetch
from tests.test_fetch import MOVIES_CSV, write_manifest


def _manifest_with(tmp_path, path: str):
    raw = {"datasets": [{"name": "evil", "source": "x", "licence": "x", "files": [
        {"path": path, "columns": ["movieId", "title", "genres"], "required": True}]}]}
    (tmp_path / "m.json").write_text(json.dumps(raw))
    return tmp_path / "m.json"


@pytest.mark.parametrize("path", ["../x/pwn.csv", "movielens/../../pwn.csv", "/etc/passwd",
                                  "..", "", ".", "C:/x.csv", "a\\..\\..\\b.csv", "a/\0b"])
def test_a_manifest_path_outside_the_data_dir_is_refused(tmp_path, path):
    with pytest.raises(DataError, match="not a path inside the data directory"):
        load_manifest(_manifest_with(tmp_path, path))


def test_fetch_with_a_traversal_manifest_reads_and_writes_nothing_outside(tmp_path, monkeypatch):
    mirror, data = tmp_path / "mirror", tmp_path / "data"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "pwn.csv").write_bytes(MOVIES_CSV)           # what the attack reads
    mirror.mkdir()
    monkeypatch.setenv("MOVIEBOT_DATA_MANIFEST", str(_manifest_with(tmp_path, "../x/pwn.csv")))
    with pytest.raises(DataError):
        fetch(data, mirror=mirror, progress=False)
    assert not (tmp_path / "pwn.csv").exists() and sorted(os.listdir(tmp_path / "x")) == ["pwn.csv"]


def test_a_symlink_out_of_the_mirror_is_not_followed(tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", "http://127.0.0.1:9"))
    secret = tmp_path / "secret.csv"
    secret.write_bytes(MOVIES_CSV)
    mirror = tmp_path / "mirror"
    (mirror / "movielens" / "toy").mkdir(parents=True)
    (mirror / "movielens" / "toy" / "movies.csv").symlink_to(secret)
    with pytest.raises(DataError, match="outside the mirror"):
        fetch(tmp_path / "d", manifest=manifest, mirror=mirror, progress=False, only=["toy-small"])
    assert not (tmp_path / "d" / "movielens" / "toy" / "movies.csv").exists()


def test_a_symlink_out_of_the_data_dir_is_not_written_through(tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m.json", "http://127.0.0.1:9"))
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "d"
    data.mkdir()
    (data / "movielens").symlink_to(outside)             # planted: data/movielens -> outside
    mirror = tmp_path / "mirror"
    (mirror / "movielens" / "toy").mkdir(parents=True)
    (mirror / "movielens" / "toy" / "movies.csv").write_bytes(MOVIES_CSV)
    with pytest.raises(DataError, match="outside the data directory"):
        fetch(data, manifest=manifest, mirror=mirror, progress=False, only=["toy-small"])
    assert list(outside.iterdir()) == []


def test_resolve_inside_accepts_ordinary_paths(tmp_path):
    assert resolve_inside(tmp_path, "a/b.csv") == (tmp_path / "a" / "b.csv").resolve()
    assert safe_relative("movielens/ml-25m/movies.csv", "m") == "movielens/ml-25m/movies.csv"


def _version(root, name="v1"):
    version = root / name
    version.mkdir(parents=True)
    (version / MANIFEST).write_text("{}")
    return version


def test_a_current_pointer_outside_the_artifacts_root_is_refused(tmp_path):
    root = tmp_path / "artifacts"
    root.mkdir()
    elsewhere = _version(tmp_path / "elsewhere")
    (root / "current").symlink_to(elsewhere)                     # absolute, out of root
    with pytest.raises(DataError, match="outside the artifacts directory"):
        current_version(root)
    (root / "current").unlink()
    (root / "current").symlink_to("../elsewhere/v1")             # relative, out of root
    with pytest.raises(DataError, match="outside the artifacts directory"):
        current_version(root)
    (root / "current").unlink()
    _version(root, "v2")
    (root / "current").symlink_to("v2")                          # what publish writes
    assert current_version(root) == (root / "v2").resolve()


def test_a_component_file_linking_out_of_its_version_is_refused(tmp_path):
    version = _version(tmp_path / "artifacts")
    (tmp_path / "planted.npy").write_bytes(b"x")
    (version / "song_ids.npy").symlink_to(tmp_path / "planted.npy")
    (version / "ok.npy").write_bytes(b"x")
    assert component_files(version, "crossmedia", ["ok.npy"])["ok.npy"] == version / "ok.npy"
    with pytest.raises(DataError, match="outside its artifacts version"):
        component_files(version, "crossmedia", ["song_ids.npy"])
