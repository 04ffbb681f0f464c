"""Draining 10,000 due messages through the real bot against a fake Bot API that enforces 30/s.

The fake answers 429 to any send beyond 30 in a sliding second; the bot's limiter
must keep it at zero. At ~28 messages/s this takes about six minutes: it is the
slowest test on purpose (the figure is quoted in docs/followups.md).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.adapters.telegram import build_application
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Person, ScheduledMessage
from tests.fakebotapi import FakeBotAPI

ROWS = 10_000


async def seed(db: Database, rows: int) -> None:
    due = datetime.now(UTC) - timedelta(seconds=5)
    async with db.transaction() as session:
        await session.execute(
            insert(Person),
            [
                {
                    "channel": "telegram",
                    "external_id": str(10_000 + i),
                    "chat_id": str(10_000 + i),
                    "active": True,
                }
                for i in range(rows)
            ],
        )
        ids = (await session.execute(select(Person.id).order_by(Person.id))).scalars().all()
        await session.execute(
            insert(ScheduledMessage),
            [
                {
                    "person_id": person_id,
                    "key": f"fu:hyd:{n}",
                    "kind": "hydration",
                    "due_at": due,
                    "payload": {"text": f"💧 water reminder {n}", "buttons": []},
                    "status": "pending",
                }
                for n, person_id in enumerate(ids)
            ],
        )


@pytest.mark.slow
async def test_ten_thousand_due_rows_drain_without_a_single_429(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        api.enforce_rate_limit(per_second=30)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            telegram_bot_token="123456:TEST-TOKEN-not-real",
            telegram_api_url=api.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'drain.db'}",
            dispatch_poll_seconds=1.0,
        )
        db = Database(settings.database_url)
        await db.create_schema()
        # hydration rows are follow-ups: people need them turned on and no quiet hours in the way
        await seed(db, ROWS)
        async with db.transaction() as session:
            await session.execute(
                Person.__table__.update().values(followups=True, quiet_start=0, quiet_end=0)
            )
        app = build_application(settings)
        started = time.monotonic()
        await app.initialize()
        await app.post_init(app)
        await app.start()  # no polling needed: the dispatcher alone sends
        try:
            while len(api.calls_to("sendMessage", ok=True)) < ROWS and time.monotonic() - started < 900:  # noqa: ASYNC110
                await asyncio.sleep(1.0)
        finally:
            await app.stop()
            await app.post_stop(app)
            await app.shutdown()
            await app.post_shutdown(app)
        elapsed = time.monotonic() - started
        sends = api.calls_to("sendMessage")
        print(f"\ndrained {len(sends)} messages in {elapsed:.1f} s = {len(sends) / elapsed:.1f}/s")
        assert api.rate_limited_count == 0
        assert len(sends) == ROWS
        assert len({c.chat_id for c in sends}) == ROWS  # each person exactly once
        async with db.transaction() as session:
            statuses = dict(
                (
                    await session.execute(
                        select(ScheduledMessage.status, func.count()).group_by(ScheduledMessage.status)
                    )
                ).all()
            )
        await db.dispose()
        assert statuses == {"sent": ROWS}
