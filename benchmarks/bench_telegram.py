"""Commands/s and latency through the real PTB stack, against a bare PTB echo bot.

    python benchmarks/bench_telegram.py [--artifacts DIR] [--burst 600] [--rate 40] [--seconds 8]
                                        [--latency 0 30] [--rounds 3]

Both bots talk to the same fake Bot API server (tests/fakes/telegram_api.py) in this
process, so they pay the same server cost:

  echo      PTB's own Updater + Application (concurrent_updates=8), one handler that
            replies with the text: the cheapest a PTB bot can be.
  moviebot  our front-end: durable polling loop (confirms after processing), the
            command layer on the real engine, the store (SQLite) remembering every
            card, HTML cards with inline keyboards.

Commands are the everyday ones that answer with one message: /info <title>, a plain
title, /help. Every command comes from a different user (so the per-user rate limit
never kicks in). The global send limiter is set to 0 for both (the fake is not
Telegram; retry_after handling stays on), otherwise both would be capped at 30 msg/s.

Each comparison runs twice: with the fake answering at once (CPU-bound: everything,
the fake included, shares this one process) and with a 30 ms answer delay, like the
round trip to the real Bot API, where concurrency and the polling loop decide.

Two measurements per bot:
  burst   N commands queued at once: throughput = N / time until the last answer
  paced   an open-loop stream at --rate commands/s: p50/p95/p99 of push -> answer
Target: moviebot throughput >= 0.8 x echo throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 0.8


def commands(engine, n: int, seed: int = 0, mix: str = "movies") -> list[str]:
    """"movies": /info <title>, plain titles and /help; "help": /help only, which isolates
    the bot stack (polling loop, command layer, rendering) from the engine's title search."""
    if mix == "help":
        return ["/help"] * n
    rng = random.Random(seed)
    titles = engine.catalog.df.sort_values("rating_count", ascending=False)["title"].head(400).tolist()
    out = []
    for _ in range(n):
        kind = rng.random()
        title = rng.choice(titles)
        out.append(f"/info {title}" if kind < 0.5 else title if kind < 0.85 else "/help")
    return out


class Recorder:
    """push time per chat, and the time of the first answer to that chat."""

    def __init__(self, fake):
        self.fake = fake
        self.pushed: dict[int, float] = {}
        self.first: dict[int, float] = {}    # chat -> push -> first answer, seconds
        self._read = len(fake.calls)          # calls before this load are not ours

    def push(self, chat: int, text: str) -> None:
        self.pushed[chat] = time.perf_counter()
        self.fake.push_text(text, user_id=chat)

    def latencies(self) -> dict[int, float]:
        # Only the calls made since the last look: the driver polls this every 5 ms, and
        # rescanning every call each time costs CPU in this process that grows with the
        # run's length, i.e. it taxed the slower bot more.
        calls = self.fake.calls
        for call in calls[self._read:]:
            chat = call.params.get("chat_id")
            if call.method in ("sendMessage", "sendPhoto") and chat in self.pushed and chat not in self.first:
                self.first[chat] = call.wall - self.pushed[chat]
        self._read = len(calls)
        return self.first


async def run_load(fake, texts: list[str], chat_base: int, rate: float | None) -> tuple[float, list[float]]:
    rec = Recorder(fake)
    started = time.perf_counter()
    for i, text in enumerate(texts):
        if rate:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        rec.push(chat_base + i, text)
    chats = set(rec.pushed)
    while len(rec.latencies()) < len(chats):     # it only holds chats of this load
        await asyncio.sleep(0.005)
        if time.perf_counter() - started > 300:
            raise TimeoutError("bot stopped answering")
    lat = rec.latencies()
    finished = max(rec.pushed[c] + lat[c] for c in chats)
    return finished - started, sorted(lat[c] for c in chats)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def echo_bot(fake, concurrency: int):
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    app = (Application.builder().token(fake.token).base_url(fake.base_url)
           .concurrent_updates(concurrency).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    await app.start()

    async def stop():
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    return stop


async def movie_bot(fake, engine, db_url: str, concurrency: int):
    from bot.commands import CommandLayer
    from bot.store import Store
    from bot.telegram.app import TelegramFrontend, TelegramOptions
    from bot.telegram.polling import DurableUpdateLoop

    store = await Store.open(db_url)
    layer = CommandLayer(lambda: engine, store=store)
    frontend = TelegramFrontend(layer, TelegramOptions(
        token=fake.token, base_url=fake.base_url, concurrency=concurrency,
        overall_max_rate=0, group_max_rate=0))
    await frontend.start()
    loop = DurableUpdateLoop(frontend, poll_timeout=1)
    task = asyncio.create_task(loop.run())

    async def stop():
        loop.stop()
        await task
        await frontend.stop()
        await store.close()
    return stop


async def measure(name, start_bot, texts_burst, texts_paced, rate, latency_ms=0.0) -> dict:
    from engine.heap import freeze_long_lived
    from tests.fakes.telegram_api import FakeTelegram

    fake = await FakeTelegram().start()
    fake.latency = latency_ms / 1000
    stop = await start_bot(fake)
    try:
        await run_load(fake, texts_burst[:20], 10_000_000, None)        # warm-up
        # As `moviebot serve` does once it is up (engine/heap.py). Both bots share this
        # process, so otherwise every full collection walks the engine, PTB, SQLAlchemy
        # and the other bot's leftovers, and its 40-100 ms pause lands in whichever
        # bot's burst happens to be running.
        freeze_long_lived()
        cpu = time.process_time()
        burst_s, burst_lat = await run_load(fake, texts_burst, 20_000_000, None)
        cpu = time.process_time() - cpu
        paced_s, paced_lat = await run_load(fake, texts_paced, 30_000_000, rate)
    finally:
        await stop()
        await fake.stop()
    result = {"name": name, "throughput": len(texts_burst) / burst_s,
              "cpu_ms": cpu * 1000 / len(texts_burst),
              "burst_p99_ms": pct(burst_lat, 0.99),
              "p50_ms": pct(paced_lat, 0.50), "p95_ms": pct(paced_lat, 0.95),
              "p99_ms": pct(paced_lat, 0.99), "paced_rate": len(texts_paced) / paced_s}
    print(f"{name:9s} burst {len(texts_burst)}: {result['throughput']:7.1f} commands/s "
          f"(p99 {result['burst_p99_ms']:.0f} ms incl. queueing; {result['cpu_ms']:.1f} ms CPU "
          f"per command, fake server included) | paced {rate:g}/s: "
          f"p50 {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms",
          flush=True)
    return result


async def main_async(args) -> int:
    from engine import Engine
    from engine.config import Settings

    settings = Settings.from_env(artifacts=args.artifacts)
    engine = Engine.load(settings.artifacts)
    texts = commands(engine, args.burst, seed=1, mix=args.mix)
    paced = commands(engine, int(args.rate * args.seconds), seed=2, mix=args.mix)
    print(f"engine {engine.version}; command mix {args.mix!r}; {os.cpu_count()} CPUs; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; concurrency {args.concurrency}")
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency in args.latency:
            print(f"--- fake Bot API answering after {latency:g} ms", flush=True)
            ratios = []
            for round_ in range(args.rounds):
                echo = await measure("echo", lambda f: echo_bot(f, args.concurrency), texts, paced,
                                     args.rate, latency)
                db = args.database_url or f"sqlite:///{Path(tmp) / f'b{latency}-{round_}.db'}"
                ours = await measure("moviebot", lambda f, db=db: movie_bot(f, engine, db, args.concurrency),
                                     texts, paced, args.rate, latency)
                ratios.append(ours["throughput"] / echo["throughput"])
                print(f"round {round_ + 1}: throughput ratio moviebot/echo = {ratios[-1]:.2f} "
                      f"(CPU-time ratio {echo['cpu_ms'] / ours['cpu_ms']:.2f})", flush=True)
            ratio = sorted(ratios)[len(ratios) // 2]
            verdicts.append(ratio >= TARGET_RATIO)
            print(f"median throughput ratio at {latency:g} ms: {ratio:.2f} -> "
                  f"{'meets' if verdicts[-1] else 'MISSES'} the >= {TARGET_RATIO} target", flush=True)
    return 0 if all(verdicts) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", help="artifacts directory (default MOVIEBOT_ARTIFACTS)")
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--rate", type=float, default=40.0, help="paced commands per second")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="store for moviebot (default: a fresh SQLite file per "
                        "round; e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test, as in production)")
    parser.add_argument("--mix", choices=["movies", "help"], default="movies")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 30.0],
                        help="ms the fake waits before answering (0: CPU-bound; 30: a real "
                             "network round trip to api.telegram.org)")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
