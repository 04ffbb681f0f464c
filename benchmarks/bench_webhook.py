"""Benchmark (not a test): two webhook replicas on PostgreSQL serving many people at once.

Starts two ``python -m bot webhook`` processes on a new PostgreSQL database,
lets the fake Bot API deliver updates to them alternately (one request per
chat in flight, as Telegram does), runs N full sessions at once and reports
people served, updates/s, and messages lost or doubled (replies and hold
prompts compared with a solo reference transcript; prompts the dispatcher
dropped as too late, and the "offline" notes, are counted separately). Holds
are real time (30 s, KNOTBOT_TIME_SCALE=1), as in tests/test_replicas.py.

    .venv/bin/python benchmarks/bench_webhook.py --people 200
    KNOTBOT_TEST_POSTGRES_URL=postgresql+asyncpg://user@host/db .venv/bin/python benchmarks/bench_webhook.py

Telegram's send caps are lifted (KNOTBOT_SEND_RATE / KNOTBOT_CHAT_BURST) so the
bot, not the cap, is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.storage.db import Database
from bot.storage.migrations import upgrade
from tests.fakebotapi import FakeBotAPI
from tests.runtime_fixtures import fresh_postgres_database
from tests.test_replicas import _dropped_texts, _reference, full_session, two_replicas


async def run(people: int) -> None:
    async with fresh_postgres_database() as url:
        db = Database(url)
        await upgrade(db)
        await db.dispose()
        with tempfile.TemporaryDirectory() as workdir:
            async with FakeBotAPI() as api, two_replicas(api, url, Path(workdir)):
                reference = await _reference(api)
                before = len(api.webhook_deliveries)
                users = [api.user(100_000 + i, f"B{i}") for i in range(people)]
                started = time.monotonic()
                results = await asyncio.gather(*(full_session(u) for u in users), return_exceptions=True)
                elapsed = time.monotonic() - started
                for user in users:
                    await user.wait_idle(quiet=0.5, timeout=60)
                deliveries = api.webhook_deliveries[before:]
        dropped = await _dropped_texts(url)
    served = sum(1 for r in results if r is None)
    lost = doubled = notes = 0
    for user in users:
        notes += sum(1 for t in user.texts if t.startswith("Sorry, I was offline"))
        expected = [t for t in reference if t not in dropped.get(user.id, [])]
        got = [t for t in user.texts if not t.startswith("Sorry, I was offline")]
        counts = Counter(got)
        doubled += sum(n - 1 for n in counts.values() if n > 1)
        lost += sum(1 for t in expected if t not in counts)
    ok = sum(1 for d in deliveries if d.ok)
    print(f"people served:        {served} / {people} (full sessions, 2 replicas, PostgreSQL)")
    print(f"updates:              {ok} in {elapsed:.1f} s = {ok / elapsed:.0f} updates/s")
    print(f"messages per person:  {len(reference)}; lost: {lost}; doubled: {doubled}")
    print(f"prompts dropped late: {sum(len(v) for v in dropped.values())}; 'offline' notes: {notes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.people))


if __name__ == "__main__":
    main()
