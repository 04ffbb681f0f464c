"""Dispatcher throughput with the rate limiter off: how fast due rows become sent messages.

Two measurements on a fresh SQLite file (PostgreSQL too with --postgres URL):

* ``null transport`` — the dispatcher's own cost: claim, settle, one transaction each;
* ``fake Bot API``   — the same through the real Telegram transport over HTTP to the
  fake Bot API of the test suite (loopback), limiter off.

Run: ``python benchmarks/bench_dispatcher.py [--rows 5000] [--postgres URL]``. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram.ext import ApplicationBuilder

from bot.adapters.telegram import TelegramTransport
from bot.attachments import Rendered
from bot.content_loader import load_content
from bot.delivery import Deliverer, Dispatcher
from bot.domain.effects import Message
from bot.ratelimit import NoLimit
from bot.storage.db import Database
from tests.fakebotapi import FakeBotAPI
from tests.test_drain import seed


class NullTransport:
    async def send(self, chat_id: str, message: Message, attachment: Rendered | None = None) -> None:
        return None


async def drain(db: Database, transport: object, rows: int) -> float:
    await db.drop_schema()
    await db.create_schema()
    await seed(db, rows)
    async with db.transaction() as session:
        from bot.storage.models import Person

        await session.execute(Person.__table__.update().values(followups=True, quiet_start=0, quiet_end=0))
    dispatcher = Dispatcher(db, Deliverer(db, transport), load_content())  # type: ignore[arg-type]
    started = time.perf_counter()
    sent = await dispatcher.run_once()
    elapsed = time.perf_counter() - started
    assert sent == rows, (sent, rows)
    return rows / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--postgres", default=None, help="postgresql+asyncpg:// URL to measure too")
    args = parser.parse_args()
    urls = {"sqlite": f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"}
    if args.postgres:
        urls["postgresql"] = args.postgres
    print(f"dispatcher throughput, {args.rows} due rows, limiter off, one process")
    print(f"{'engine':<11} {'transport':<14} {'rows/s':>9}")
    for engine, url in urls.items():
        db = Database(url)
        rate = await drain(db, NullTransport(), args.rows)
        print(f"{engine:<11} {'null':<14} {rate:>9,.0f}")
        async with FakeBotAPI() as api:
            app = ApplicationBuilder().token("123456:BENCH-not-real").base_url(api.base_url).build()
            async with app:
                rate = await drain(db, TelegramTransport(app, db, NoLimit()), args.rows)
        print(f"{engine:<11} {'fake Bot API':<14} {rate:>9,.0f}")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
