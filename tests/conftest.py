"""Shared fixtures: the real data directory and one quick build for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import Settings


def _data_dir() -> Path:
    return Path(os.environ.get("MOVIEBOT_DATA_DIR") or Settings.from_env().data_dir)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not (path / "movielens" / "ml-latest-small" / "movies.csv").exists():
        pytest.fail(f"real data not found in {path}: set MOVIEBOT_DATA_DIR "
                    "(CI uses ../shared/data) or run `moviebot data fetch`")
    return path


@pytest.fixture(scope="session")
def quick_artifacts(tmp_path_factory, data_dir) -> Path:
    """An artifacts directory with every registered component built in --quick mode."""
    from engine import artifacts
    from engine.build_context import BuildContext
    from jobs.build import run_build

    root = tmp_path_factory.mktemp("artifacts")
    ctx = BuildContext(data_dir=data_dir, out_dir=artifacts.new_version_dir(root), quick=True,
                       progress=False)
    run_build(ctx)
    return root


@pytest.fixture(scope="session")
def engine(quick_artifacts):
    from engine import Engine

    return Engine.load(quick_artifacts)


@pytest.fixture(scope="session")
def catalog_frame(data_dir):
    from engine.datasets.catalog_build import build_catalog

    return build_catalog(data_dir)
