"""`moviebot chat` end to end: a real subprocess reading piped messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_chat(artifacts, data_dir, stdin: str = "", args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOVIEBOT_ARTIFACTS": str(artifacts), "MOVIEBOT_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "bot.cli", "chat", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def transcript(quick_artifacts, data_dir) -> str:
    messages = ["/help", "/info toy story", "/info the godfater", "hamlet", "/search heat",
                "/info xyzzy qwerty plugh", "/nonsense", "/info", "x" * 5000, "\x00\x07",
                "/info <b>Heat</b> 1995", "🎬🍿", "Амели", "/info@somebot toy story"]
    proc = run_chat(quick_artifacts, data_dir, "\n".join(messages) + "\n")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def blocks(transcript: str) -> list[str]:
    return [b for b in transcript.split("\n\n\n") if b.strip()]


def test_help_lists_commands(transcript):
    assert "/info <title>" in transcript and "/search" in transcript


def test_info_toy_story_has_the_facts(transcript):
    block = next(b for b in transcript.split("■ ") if b.startswith("Toy Story (1995)"))
    assert "Adventure, Animation, Children, Comedy, Fantasy" in block  # all genres
    assert "Woody" in block                                            # overview
    assert "Director: John Lasseter" in block
    assert "https://www.youtube.com/watch?v=K26_sDKnvMU" in block      # trailer link
    assert "https://image.tmdb.org/t/p/w500/" in block                # poster


def test_typo_resolves(transcript):
    assert "■ The Godfather (1972)" in transcript


def test_ambiguous_title_offers_numbered_choices(transcript):
    assert "“hamlet” could be several movies" in transcript
    assert "[1] Hamlet (" in transcript


def test_bad_input_gets_friendly_answers_and_no_traceback(transcript):
    assert "I couldn't find a movie called “xyzzy qwerty plugh”" in transcript
    assert "I don't know /nonsense" in transcript
    assert "Which movie?" in transcript
    assert "too long" in transcript
    assert "Traceback" not in transcript and "Error" not in transcript


def test_markup_in_a_title_is_just_text(transcript):
    assert "■ Heat (1995)" in transcript


def test_one_shot_command(quick_artifacts, data_dir):
    proc = run_chat(quick_artifacts, data_dir, args=("-c", "/info heat 1995"))
    assert proc.returncode == 0 and "■ Heat (1995)" in proc.stdout


def test_missing_artifacts_name_the_fix(tmp_path, data_dir):
    proc = run_chat(tmp_path / "nothing", data_dir, args=("-c", "/help"))
    assert proc.returncode == 1
    assert "moviebot build" in proc.stderr and "Traceback" not in proc.stderr


def test_a_version_with_a_damaged_component_names_the_fix(quick_artifacts, tmp_path):
    """A file missing from a built version (say, built by an older release) is a clear error."""
    import shutil

    from engine import Engine
    from engine.errors import DataError

    copy = tmp_path / "copy"
    shutil.copytree(quick_artifacts, copy, symlinks=True)
    engine = Engine.load(copy)
    (engine.version_dir / "collab" / "item_ids.npy").unlink()
    with pytest.raises(DataError) as err:
        Engine.load(copy).recommender("collab")
    assert "collab" in str(err.value) and "moviebot build" in str(err.value)
