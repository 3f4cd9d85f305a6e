"""No configured secret reaches any output (issue 14, item 2).

Real `moviebot -v serve telegram` subprocesses against the fake Bot API: one with a
rejected token (a clean one-line error, exit 78), one whose sends fail for a while
(a Bot API outage) and that is then stopped. Every byte they print, at DEBUG level, is
searched for the Telegram token, the Discord token, the TMDB key and the database
password. The formatter itself is checked on a third-party record with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bot.logsafe import REDACTED, install
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:AAF-realistic_Secret-token_value"
DISCORD = "MTA0.discord-secret-token.value"
TMDB = "tmdbsecretkey0123456789"
PASSWORD = "db-pass-w0rd!"


def _env(fake: FakeTelegram, artifacts: Path, tmp_path: Path, token: str) -> dict:
    env = dict(os.environ)
    env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE_URL=fake.base_url,
               DISCORD_BOT_TOKEN=DISCORD, TMDB_API_KEY=TMDB,
               TMDB_API_BASE_URL="http://127.0.0.1:9/3",     # unreachable: errors get logged
               DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", MOVIEBOT_DB_SCHEMA="",
               MOVIEBOT_ARTIFACTS=str(artifacts), MOVIEBOT_ADMINS="telegram:1",
               TF_NUM_INTEROP_THREADS="1", TF_NUM_INTRAOP_THREADS="1")
    return env


async def _serve(env: dict, log: Path) -> asyncio.subprocess.Process:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "-v", "serve", "telegram", env=env, stdout=out,
        stderr=out, cwd=ROOT)


def leaks(text: str) -> list[str]:
    return [name for name, secret in (("telegram", TOKEN), ("discord", DISCORD), ("tmdb", TMDB),
                                      ("password", PASSWORD)) if secret in text]


async def test_a_rejected_token_is_one_clean_line_and_never_printed(quick_artifacts, tmp_path):
    fake = await FakeTelegram(token="1:the-right-one").start()
    try:
        proc = await _serve(_env(fake, quick_artifacts, tmp_path, TOKEN), tmp_path / "out.log")
        assert await asyncio.wait_for(proc.wait(), 120) == 78
    finally:
        await fake.stop()
    out = (tmp_path / "out.log").read_text()
    assert leaks(out) == []
    assert "Traceback" not in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("moviebot: Telegram rejected the bot token in TELEGRAM_BOT_TOKEN")


async def test_debug_logs_of_a_run_with_bot_api_failures_hold_no_secret(quick_artifacts, tmp_path):
    fake = await FakeTelegram(token=TOKEN).start()
    proc = None
    try:
        fake.down("sendMessage", "sendPhoto")
        fake.push_text("/info heat")
        fake.push_text("/help")
        proc = await _serve(_env(fake, quick_artifacts, tmp_path, TOKEN), tmp_path / "out.log")
        await fake.wait_for(lambda f: f.outage_failures >= 3, 120)
        fake.up()
        await fake.wait_for(lambda f: f.all_confirmed(), 120)
        assert fake.sent("sendMessage") or fake.sent("sendPhoto")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
        await fake.stop()
    out = (tmp_path / "out.log").read_text()
    assert "Set Bot API URL" in out or "getUpdates" in out      # DEBUG lines were written
    assert REDACTED in out                                     # ... and the token blanked in them
    assert leaks(out) == []


def test_the_formatter_redacts_third_party_lines_and_tracebacks(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = root.handlers[:], root.level, sys.excepthook
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    try:
        install([TOKEN, PASSWORD, "abc"])          # too short to redact: left alone
        url = f"postgresql://bot:{PASSWORD}@db/moviebot"
        logging.getLogger("httpx").debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise ConnectionError(f"cannot connect to {url}")
        except ConnectionError:
            logging.getLogger("sqlalchemy.pool").exception("connection failed")
        logging.getLogger("telegram").warning("quoted %s", TOKEN.replace(":", "%3A"))
        logging.getLogger("x").info("abc stays")
    finally:
        root.handlers[:], level, sys.excepthook = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert leaks(err) == [] and "%3AAAF" not in err
    assert err.count(REDACTED) == 3 and "Traceback" in err and "abc stays" in err


async def test_a_database_that_does_not_answer_is_one_clean_line_without_its_password(
        quick_artifacts, tmp_path):
    """Nothing listens where DATABASE_URL points: `serve` ends with one line naming the
    setting (exit 1, so a container is restarted), no driver traceback, no password."""
    env = _env(FakeTelegram(), quick_artifacts, tmp_path, TOKEN)
    env.update(TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot",
               DATABASE_URL=f"postgresql+asyncpg://bot:{PASSWORD}@127.0.0.1:9/moviebot")
    proc = await _serve(env, tmp_path / "out.log")
    assert await asyncio.wait_for(proc.wait(), 120) == 1
    out = (tmp_path / "out.log").read_text()
    assert leaks(out) == [] and "Traceback" not in out
    assert out.strip().splitlines()[-1].startswith("moviebot: the database in DATABASE_URL "
                                                   "does not answer")


async def test_a_rejected_discord_token_is_one_clean_line_and_never_printed(
        quick_artifacts, tmp_path):
    from tests.fakes.discord_api import FakeDiscord

    fake = await FakeDiscord(token="the-right-one").start()
    try:
        env = _env(FakeTelegram(), quick_artifacts, tmp_path, "")
        env.update(DISCORD_API_BASE_URL=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url)
        out = open(tmp_path / "out.log", "wb")  # noqa: SIM115 - closed with the process
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "-v", "serve", "discord", env=env, stdout=out,
            stderr=out, cwd=ROOT)
        assert await asyncio.wait_for(proc.wait(), 120) == 78
    finally:
        await fake.stop()
    text = (tmp_path / "out.log").read_text()
    assert leaks(text) == [] and "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("moviebot: Discord rejected the bot token")
