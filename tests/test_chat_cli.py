"""`moviebot chat` end to end: a real subprocess reading piped messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run_chat(artifacts, data_dir, stdin: str = "", args: tuple[str, ...] = (),
             database: Path | None = None) -> subprocess.CompletedProcess:
    """``database``: the SQLite file the chat remembers in (None: --no-store, so no run
    of the suite writes to the project's data/moviebot.db)."""
    env = {**os.environ, "MOVIEBOT_ARTIFACTS": str(artifacts), "MOVIEBOT_DATA_DIR": str(data_dir)}
    env.pop("MOVIEBOT_SPOOL", None)
    if database is None:
        args = ("--no-store", *args)
    else:
        env["DATABASE_URL"] = f"sqlite:///{database}"
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


def test_a_numbered_button_is_pressed_in_the_console(quick_artifacts, data_dir):
    """Typing a button's number answers as the button would: the chosen film's card, and
    its "More like this" list (not "open a chat with me", the answer for a card shared
    where the bot cannot post)."""
    proc = run_chat(quick_artifacts, data_dir, "hamlet\n1\n3\n")
    assert proc.returncode == 0, proc.stderr
    chosen, card, more = re.split(r"^> ", proc.stdout, flags=re.M)[1:4]
    assert chosen.startswith("hamlet") and "[1] Hamlet (" in chosen
    assert card.startswith("1\n") and "■ Hamlet (" in card
    assert more.startswith("3\n") and "Open a chat" not in more and more.count("■ ") >= 2


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


# -- memory: the configured store, one local user, --user profiles -----------------------
def answers(transcript: str) -> dict[str, str]:
    """Piped input: each answer follows its echoed line ("> /rate heat 4.5")."""
    found: dict[str, str] = {}
    for block in ("\n" + transcript).split("\n> ")[1:]:
        line, _, answer = block.partition("\n")
        found.setdefault(line, answer.strip())
    return found


def test_piped_lines_are_echoed_before_their_answers(quick_artifacts, data_dir):
    proc = run_chat(quick_artifacts, data_dir, "/info heat 1995\n/search godfather\n")
    assert proc.returncode == 0, proc.stderr
    said = answers(proc.stdout)
    assert said["/info heat 1995"].startswith("■ Heat (1995)")
    assert said["/search godfather"].startswith("Titles matching “godfather”")
    assert proc.stdout.index("> /search godfather") > proc.stdout.index("■ Heat (1995)")


def test_one_shot_shows_no_button_hint(quick_artifacts, data_dir):
    proc = run_chat(quick_artifacts, data_dir, args=("-c", "/info heat 1995"))
    assert "[1] 👍" in proc.stdout and "type a number" not in proc.stdout


def test_start_promises_only_what_works(quick_artifacts, data_dir, tmp_path):
    without = run_chat(quick_artifacts, data_dir, args=("-c", "/start")).stdout
    assert "no memory" in without and "gets more personal" not in without
    with_store = run_chat(quick_artifacts, data_dir, args=("-c", "/start"),
                          database=tmp_path / "m.db").stdout
    assert "gets more personal" in with_store
    assert "no memory configured" in run_chat(quick_artifacts, data_dir,
                                              args=("-c", "/rate heat 4")).stdout


def test_chat_remembers_across_runs(quick_artifacts, data_dir, tmp_path):
    db = tmp_path / "chat.db"
    first = run_chat(quick_artifacts, data_dir,
                     "/rate heat 1995 4.5\n/recommend\n/info toy story\n1\n"
                     "/watchlist add the godfather\n/recommend\n", database=db)
    assert first.returncode == 0, first.stderr
    said = answers(first.stdout)
    assert said["/rate heat 1995 4.5"] == "Saved: Heat (1995) ★ 4.5/5."
    assert said["/recommend"].startswith("Picked for you from your 1 rating:")
    assert said["1"] == "👍 Noted for Toy Story (1995). /recommend uses it."
    assert said["/watchlist add the godfather"] == "Added The Godfather (1972) to your watchlist."
    assert "Picked for you from 2 movies you rated or reacted to:" in first.stdout
    assert db.exists()

    second = run_chat(quick_artifacts, data_dir, "/recommend\n/watchlist\n", database=db)
    said = answers(second.stdout)
    assert said["/recommend"].startswith("Picked for you from 2 movies you rated or reacted to:")
    assert said["/watchlist"].startswith("Your watchlist:\n• The Godfather (1972)")


def test_users_are_kept_apart(quick_artifacts, data_dir, tmp_path):
    db = tmp_path / "chat.db"
    ada = run_chat(quick_artifacts, data_dir, "/rate heat 1995 4.5\n/watchlist add heat 1995\n",
                   args=("--user", "ada"), database=db)
    assert "Saved: Heat (1995)" in ada.stdout, ada.stderr
    bob = run_chat(quick_artifacts, data_dir, "/recommend\n/watchlist\n",
                   args=("--user", "bob"), database=db)
    said = answers(bob.stdout)
    assert said["/recommend"].startswith("I don't know your taste yet.")
    assert said["/watchlist"].startswith("Your watchlist is empty.")
    local = run_chat(quick_artifacts, data_dir, args=("-c", "/watchlist"), database=db)
    assert "Your watchlist is empty." in local.stdout
    again = run_chat(quick_artifacts, data_dir, "/recommend\n/watchlist\n",
                     args=("--user", "ada"), database=db)
    said = answers(again.stdout)
    assert said["/recommend"].startswith("Picked for you from your 1 rating:")
    assert said["/watchlist"].startswith("Your watchlist:\n• Heat (1995)")
