"""`moviebot serve`: platform choice, engine hot swap, and the console front-end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.serve_cli import pick_platform
from bot.settings import BotSettings

ROOT = Path(__file__).resolve().parent.parent


def test_auto_picks_telegram_then_discord_then_console():
    assert pick_platform("auto", BotSettings(telegram_token="t", discord_token="d")) == "telegram"
    assert pick_platform("auto", BotSettings(discord_token="d")) == "discord"
    assert pick_platform("auto", BotSettings(), interactive=True) == "console"
    assert pick_platform("discord", BotSettings(telegram_token="t")) == "discord"
    assert pick_platform("console", BotSettings(), interactive=False) == "console"


def test_auto_without_token_or_terminal_exits_non_zero_naming_the_variables(tmp_path):
    """As in a container: stdin is not a TTY and no token is set. No console fallback that
    ends at EOF with exit 0 (a restart loop under compose), but a distinct non-zero exit."""
    from bot.serve_cli import NO_TOKEN_EXIT

    env = {"PATH": "/usr/bin:/bin", "MOVIEBOT_ARTIFACTS": str(tmp_path / "none"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "MOVIEBOT_ENV_FILE": str(tmp_path / "none.env"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "auto"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == NO_TOKEN_EXIT != 0
    assert "TELEGRAM_BOT_TOKEN" in out.stderr and "DISCORD_BOT_TOKEN" in out.stderr
    assert "not a terminal, a pipe or a file" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.db").exists()  # it stopped before opening anything


def test_serve_console_answers_piped_messages(quick_artifacts, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MOVIEBOT_ARTIFACTS": str(quick_artifacts),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
           "MOVIEBOT_ENV_FILE": str(tmp_path / "none.env"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "console", "--spool",
                          str(tmp_path / "spool.jsonl")],
                         input="/info toy story\n/rate toy story 4.5\n/nonsense\n",
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Toy Story (1995)" in out.stdout
    assert "Saved: Toy Story (1995) ★ 4.5/5" in out.stdout
    assert "I don't know /nonsense" in out.stdout
    assert "Traceback" not in out.stderr


def test_serve_telegram_without_token_is_a_clear_error(quick_artifacts, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MOVIEBOT_ARTIFACTS": str(quick_artifacts),
           "MOVIEBOT_ENV_FILE": str(tmp_path / "none.env"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "telegram", "--no-store"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in out.stderr and "Traceback" not in out.stderr


def test_serving_never_imports_tensorflow(quick_artifacts):
    code = (
        "import sys, asyncio\n"
        "from bot import serve_cli, commands\n"
        "from bot.telegram import app, polling, webhook\n"
        "from bot.discord import client\n"
        "from engine import tmdb\n"
        "from engine import Engine\n"
        "layer = commands.CommandLayer(lambda e=Engine.load(sys.argv[1]): e)\n"
        "u = commands.User('console', 'me')\n"
        "for text in ('/similar heat', '/song bohemian rhapsody', '/info toy story'):\n"
        "    asyncio.run(layer.handle(text, u))\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code, str(quick_artifacts)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_piped_lines_or_a_file_count_as_someone_on_stdin_and_dev_null_does_not(tmp_path):
    from bot.serve_cli import someone_on_stdin

    read_end, write_end = os.pipe()
    with open(read_end) as pipe, open(os.devnull) as null:
        assert someone_on_stdin(pipe)                 # printf '/info heat' | make run
        assert not someone_on_stdin(null)             # a container / service manager
    os.close(write_end)
    script = tmp_path / "lines.txt"
    script.write_text("/help\n")
    with script.open() as lines:
        assert someone_on_stdin(lines)                # make run < lines.txt
    assert not someone_on_stdin(None)
