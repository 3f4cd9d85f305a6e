"""docker-compose.yml read as an operator would (no `docker compose config` here: parse it).

The bot waits for a finished first build, does not restart-loop without a token, and every
service sees the raw data and artifacts where the Dockerfile's environment says they are.
PyYAML comes with the dev extra (`make test` installs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text()
    block = re.search(r"^ENV (.*?)(?=^\S)", text, re.S | re.M).group(1)
    return dict(re.findall(r"(\w+)=(\S+)", block))


def test_bot_and_jobs_wait_for_a_completed_build(compose):
    services = compose["services"]
    build = services["build"]
    assert build["restart"] == "no"  # one-shot
    assert "moviebot build --if-missing" in " ".join(build["command"])
    assert "train" in build["build"]["args"]["EXTRAS"]  # the image that builds has TensorFlow
    for name in ("bot", "jobs"):
        deps = services[name]["depends_on"]
        assert deps["build"] == {"condition": "service_completed_successfully"}
        assert deps["postgres"] == {"condition": "service_healthy"}
    assert services["jobs"]["command"] == ["moviebot", "jobs", "run"]
    assert services["jobs"]["build"] == build["build"]


def test_bot_does_not_restart_loop_without_a_token(compose):
    bot = compose["services"]["bot"]
    restart = bot["restart"]
    # `serve auto` exits non-zero without a token; only a bounded on-failure policy is safe
    assert re.fullmatch(r"on-failure:[1-5]", restart), restart
    assert "command" not in bot  # the image's CMD: moviebot serve auto
    assert bot["environment"]["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}"
    assert bot["environment"]["DISCORD_BOT_TOKEN"] == "${DISCORD_BOT_TOKEN:-}"


def test_mounts_match_the_image_and_make_run(compose, dockerfile_env):
    assert dockerfile_env["MOVIEBOT_DATA_DIR"] == "/data/raw"
    assert dockerfile_env["MOVIEBOT_ARTIFACTS"] == "/data/artifacts"
    for name in ("build", "bot", "jobs"):
        volumes = compose["services"][name]["volumes"]
        assert "moviebot-data:/data" in volumes  # artifacts (and SQLite, spool) persist
        # the same variable as `make run`, with make's first candidate as default, read-only
        assert "${MOVIEBOT_DATA_DIR:-./data/raw}:/data/raw:ro" in volumes
        env = compose["services"][name]["environment"]
        assert "MOVIEBOT_DATA_DIR" not in env  # the host path must not leak into the container
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://moviebot:moviebot@postgres")
    assert set(compose["volumes"]) == {"pgdata", "moviebot-data"}


def test_readme_describes_the_same_setup():
    readme = (ROOT / "README.md").read_text()
    docker = readme[readme.index("**Docker**"):][:1200]
    assert "build" in docker and "MOVIEBOT_DATA_DIR" in docker and "/data/raw" in docker
