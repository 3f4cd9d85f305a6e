"""Issue 18's acceptance, end to end, printed as a transcript.

A private copy (hard links) of a built version; the fake TMDB (tests/fakes/tmdb_api.py)
serving the 200 most voted real films released since 2019; the fake Telegram Bot API; a
real `moviebot serve telegram` subprocess. The chat asks for new films (answered on demand
from TMDB, folded into the content space, and queued in pending_titles.jsonl), then
`moviebot catalog update --since 2019-01-01` runs (another process), and the same running
bot, without a restart, is asked again, where to watch included. The built version needs
the saved content transforms (a build from issue 18 on, or `moviebot build --only content`).

    python benchmarks/acceptance_catalog_update.py --artifacts DIR
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import artifacts  # noqa: E402
from engine.config import Settings  # noqa: E402
from tests.fakes import stop_process  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.fakes.tmdb_api import FakeTMDB, recent_movies  # noqa: E402

BEFORE = ["/info Oppenheimer", "/similar Oppenheimer", "/info Barbie"]
AFTER = ["/info Oppenheimer", "/similar Oppenheimer", "/where Oppenheimer", "/info Barbie",
         "/similar Parasite", "/similar Everything Everywhere All at Once",
         "/info Top Gun: Maverick", "/where Top Gun: Maverick", "/search dune"]


def texts(fake: FakeTelegram) -> list[str]:
    return [c.params.get("text") or c.params.get("caption") or ""
            for c in fake.sent(chat_id=42) if c.method in ("sendMessage", "sendPhoto")]


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


async def ask(fake: FakeTelegram, text: str, timeout: float = 60.0) -> list[str]:
    before = len(texts(fake))
    fake.push_text(text)
    await fake.wait_for(lambda f: len(texts(f)) > before and f.all_confirmed(), timeout)
    return texts(fake)[before:]


def show(question: str, answers: list[str]) -> None:
    print(f"\n> {question}")
    for answer in answers:
        lines = plain(answer).splitlines()
        for line in lines[:6]:
            print(f"  {line[:160]}")


async def main(source: Path, limit: int) -> int:
    settings = Settings.from_env()
    movies = recent_movies(settings.data_dir, "2019-01-01", limit=limit)
    with tempfile.TemporaryDirectory(prefix="acceptance-") as tmp:
        tmp = Path(tmp)
        version = artifacts.current_version(source)
        root = tmp / "artifacts"
        for path in version.rglob("*"):
            if path.is_file():
                (root / version.name / path.relative_to(version)).parent.mkdir(parents=True, exist_ok=True)
                os.link(path, root / version.name / path.relative_to(version))
        artifacts.publish(root, root / version.name)
        tmdb = await FakeTMDB(movies).start()
        telegram = await FakeTelegram().start()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token,
               "TELEGRAM_API_BASE_URL": telegram.base_url, "MOVIEBOT_ARTIFACTS": str(root),
               "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}", "DISCORD_BOT_TOKEN": "",
               "TMDB_API_KEY": tmdb.api_key, "TMDB_API_BASE_URL": tmdb.base_url,
               "PYTHONPATH": str(ROOT)}
        print(f"fake TMDB serving {len(movies)} real films released since 2019-01-01; "
              f"served version {version.name}")
        log = open(tmp / "bot.log", "wb")  # noqa: SIM115 - closed below
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "telegram", env=env, stdout=log,
            stderr=log, cwd=ROOT)
        try:
            print("\n=== a running `moviebot serve telegram`, before the update ===")
            for question in BEFORE:
                show(question, await ask(telegram, question, timeout=180))
            pending = root / artifacts.PENDING_TITLES
            print(f"\n=== {pending.name}, queued by the bot ===")
            print(pending.read_text().rstrip() if pending.exists() else "(none)")
            print("\n=== $ moviebot catalog update --since 2019-01-01 ===")
            started = time.perf_counter()
            update = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "catalog", "update", "--since", "2019-01-01",
                "--no-progress", env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await update.communicate()
            print(out.decode().rstrip())
            print(f"(exit {update.returncode}, {time.perf_counter() - started:.1f} s; "
                  f"{len(tmdb.requests)} detail requests)")
            if update.returncode:
                print(err.decode()[-2000:])
                return 1
            published = artifacts.current_version(root).name
            print("\n=== the same bot process, after the update (no restart) ===")
            for _ in range(120):              # the bot notices the new version within seconds
                answers = await ask(telegram, "/info Oppenheimer")
                # before the reload the on-demand card (TMDB's record) also says "(2023)"
                if "Oppenheimer (2023)" in plain(answers[-1]) and "New to me" not in plain(answers[-1]):
                    break
                await asyncio.sleep(1)
            print(f"(serving {published} after {time.perf_counter() - started:.1f} s "
                  "from the update's start)")
            show("/info Oppenheimer", answers)
            for question in AFTER[1:]:
                show(question, await ask(telegram, question))
        finally:
            await stop_process(bot)
            log.close()
            await telegram.stop()
            await tmdb.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", default="", help="a built artifacts root (default MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--limit", type=int, default=200, help="real films the fake TMDB serves")
    args = parser.parse_args()
    source = Path(args.artifacts) if args.artifacts else Settings.from_env().artifacts
    raise SystemExit(asyncio.run(main(Path(source), args.limit)))
