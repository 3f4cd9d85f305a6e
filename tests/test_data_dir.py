"""Which raw-data directory moviebot uses: an explicit choice, else the first complete one.

A failed fetch leaves an empty or partial `data/raw`; it must never hide `../shared/data`
(or any later candidate) that has every required file. Everything here runs on tmp dirs
with PROJECT_ROOT pointed at a fake checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from engine import config
from engine.config import Settings, missing_required, search_data_dir
from engine.datasets.manifest import load_manifest
from engine.errors import DataError
from tests.test_manifest import run_cli

REQUIRED = [f.path for f in load_manifest().files() if f.required]


def fill(root: Path, paths) -> Path:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")
    return root


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A fake checkout at tmp/work/repo, so the candidates are repo/data/raw and
    work/shared/data; no MOVIEBOT_DATA_DIR and no .env in the way."""
    repo = tmp_path / "work" / "repo"
    repo.mkdir(parents=True)
    monkeypatch.setattr(config, "PROJECT_ROOT", repo)
    monkeypatch.delenv("MOVIEBOT_DATA_DIR", raising=False)
    monkeypatch.delenv("MOVIEBOT_DATA_MANIFEST", raising=False)
    monkeypatch.setenv("MOVIEBOT_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.chdir(tmp_path)
    return repo


def raw(repo: Path) -> Path:
    return repo / "data" / "raw"


def shared(repo: Path) -> Path:
    return repo.parent / "shared" / "data"


def test_required_files_are_movielens_and_songs():
    assert "movielens/ml-latest-small/ratings.csv" in REQUIRED
    assert "movielens/ml-latest-small/movies.csv" in REQUIRED
    assert all(not p.startswith("tmdb") for p in REQUIRED)  # Kaggle sets are optional


@pytest.mark.parametrize("leftover", [[], REQUIRED[:1]], ids=["empty", "partial"])
def test_failed_fetch_does_not_hide_shared_data(checkout, leftover):
    raw(checkout).mkdir(parents=True)
    fill(raw(checkout), leftover)
    fill(shared(checkout), REQUIRED)
    assert Settings().data_dir == shared(checkout)
    assert Settings.from_env().data_dir == shared(checkout)
    search = search_data_dir()
    assert search.complete
    assert [p for p, _ in search.looked] == [raw(checkout), shared(checkout)]
    assert "missing" in search.looked[0][1]


def test_complete_local_data_comes_first(checkout):
    fill(raw(checkout), REQUIRED)
    fill(shared(checkout), REQUIRED)
    assert Settings().data_dir == raw(checkout)


def test_explicit_choice_wins_even_when_incomplete(checkout, monkeypatch, tmp_path):
    fill(shared(checkout), REQUIRED)
    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(mine))
    assert Settings.from_env().data_dir == mine
    assert Settings.from_env(data_dir=str(shared(checkout))).data_dir == shared(checkout)


def test_nothing_complete_falls_back_to_data_raw_and_says_where_it_looked(checkout):
    fill(shared(checkout), REQUIRED[1:])
    search = search_data_dir()
    assert not search.complete and search.chosen == raw(checkout)
    text = search.describe()
    assert f"{raw(checkout)}: does not exist" in text
    assert f"{shared(checkout)}: 1 required file(s) missing, e.g. {REQUIRED[0]}" in text
    assert Settings().data_dir == raw(checkout)  # where `moviebot data fetch` puts files


def test_explicit_candidates(tmp_path):
    a, b = tmp_path / "a", fill(tmp_path / "b", REQUIRED)
    assert search_data_dir([a, b]).chosen == b
    assert missing_required(b) == []
    assert missing_required(a) == REQUIRED


def test_data_check_names_the_locations_looked_at(checkout, capsys):
    raw(checkout).mkdir(parents=True)
    assert run_cli(["data", "check"]) == 1
    out = capsys.readouterr().out
    assert "No complete data directory found" in out
    assert str(raw(checkout)) in out and str(shared(checkout)) in out
    assert "moviebot data fetch" in out and "MOVIEBOT_DATA_DIR" in out


def test_data_check_with_an_explicit_dir_says_nothing_else_is_searched(checkout, capsys,
                                                                       tmp_path):
    assert run_cli(["data", "check", "--data-dir", str(tmp_path / "nowhere")]) == 1
    out = capsys.readouterr().out
    assert "no other location is searched" in out


def test_build_refuses_early_and_names_the_locations(checkout, tmp_path):
    from jobs import build_cli

    args = argparse.Namespace(data_dir=None, artifacts=str(tmp_path / "art"), out=None,
                              ratings=None, if_missing=True, quick=True, seed=42, only=None,
                              no_publish=True)
    with pytest.raises(DataError) as err:
        build_cli.run(args)
    message = str(err.value)
    assert "required data file(s) missing" in message
    assert str(raw(checkout)) in message and str(shared(checkout)) in message


def test_no_artifacts_advice_works_where_it_is_read(tmp_path, monkeypatch):
    """The serving image has no TensorFlow: it must not tell people to run `moviebot build`."""
    import importlib.util

    from engine import artifacts

    real = importlib.util.find_spec
    with pytest.raises(DataError) as err:
        artifacts.current_version(tmp_path)
    assert "run `moviebot build`" in str(err.value)

    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(DataError) as err:
        artifacts.current_version(tmp_path)
    assert "no TensorFlow" in str(err.value) and "docker compose run --rm build" in str(err.value)
