"""Faults through the fake Bot API: Telegram failing during polling and replies, a redelivered
update, a locked or unavailable database, the admin report and what the logs may contain."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.logging_setup import RedactingFormatter
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Conversation, ProcessedUpdate
from tests.fakebotapi import FakeBotAPI
from tests.test_telegram_e2e import api, make_settings, running_bot  # noqa: F401  (fixtures)

GREETING = "Hi, I'm Knotbot"
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # shaped like a real token (not one)


async def _count(settings: Settings, model: type) -> int:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await db.dispose()


async def test_polling_survives_5xx_429_and_timeouts(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    async with running_bot(make_settings()):
        api.fail_next("getUpdates", 502, count=2)
        api.fail_next("getUpdates", 500)
        api.fail_next("getUpdates", 429, retry_after=1)
        ann = api.user(8101, "Ann")
        await ann.send_command("start")
        await ann.wait_for(GREETING, timeout=30)
        await ann.wait_idle()
        assert sum(GREETING in t for t in ann.texts) == 1
        failed = [c.error_code for c in api.calls_to("getUpdates", ok=False)]
        assert {502, 500, 429} <= set(failed)


async def test_replies_survive_5xx_and_429_and_arrive_once(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    async with running_bot(make_settings(dispatch_poll_seconds=0.2)):
        bob = api.user(8202, "Bob")
        api.fail_next("sendMessage", 502)
        await bob.send_command("start")
        await bob.wait_for("Tap Begin", timeout=30)
        api.fail_next("sendMessage", 429, retry_after=1)
        await bob.send_command("about")
        await bob.wait_for("What is a muscle knot", timeout=30)
        await bob.wait_idle()
    assert sum(GREETING in t for t in bob.texts) == 1
    assert sum("What is a muscle knot" in t for t in bob.texts) == 1


async def test_a_redelivered_update_has_no_second_effect(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    settings = make_settings()
    async with running_bot(settings):
        cy = api.user(8303, "Cy")
        update = (await cy.send_command("start")) and cy.sent[-1]
        await cy.wait_for(GREETING)
        await cy.wait_idle()
        await api.queue_update(dict(update))  # Telegram sends the same update_id again
        await cy.send_command("help")
        await cy.wait_for("Here is what I can do")
        await cy.wait_idle()
    assert sum(GREETING in t for t in cy.texts) == 1
    assert await _count(settings, ProcessedUpdate) == 2


async def test_a_briefly_locked_database_is_waited_for(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    settings = make_settings()
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a SQLite lock held by another connection; PostgreSQL locks per person instead")
    async with running_bot(settings):
        di = api.user(8404, "Di")
        await di.send_command("start")
        await di.wait_for(GREETING)
        await di.wait_idle()
        path = settings.database_url.split("///", 1)[1]
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        await di.send_command("massage")
        await asyncio.sleep(0.5)  # let the bot run into the lock (not a timing assertion)
        blocker.execute("COMMIT")
        blocker.close()
        await di.wait_for("Do any of these apply", timeout=30)
        await di.wait_idle()
    assert sum("Do any of these apply" in t for t in di.texts) == 1


async def test_an_unavailable_database_tells_the_person_and_writes_nothing(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(admin_chat_id=999, telegram_bot_token=TOKEN)
    async with running_bot(settings):
        ed = api.user(8505, "Eddie", username="eddie_secret")
        await ed.send_command("start")
        await ed.wait_for(GREETING)
        await ed.wait_idle()
        updates_before = await _count(settings, ProcessedUpdate)
        state_before = await _conversation(settings)
        original = Database.transaction

        def locked(self: Database) -> Any:
            raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))

        monkeypatch.setattr(Database, "transaction", locked)
        with caplog.at_level(logging.INFO):
            await ed.send_text("my private symptom words")
            await ed.wait_for("Please try that again", timeout=30)
            await ed.wait_idle()
        monkeypatch.setattr(Database, "transaction", original)
        assert await _count(settings, ProcessedUpdate) == updates_before
        assert await _conversation(settings) == state_before
        await ed.send_command("massage")  # the bot keeps working
        await ed.wait_for("Do any of these apply")
        await ed.wait_idle()
    admin = [m.text for m in api.sent_messages(chat_id=999)]
    assert len(admin) == 1 and "update failed" in admin[0] and "OperationalError" in admin[0]
    formatter = RedactingFormatter("%(name)s %(message)s")  # what configure_logging writes
    logs = "\n".join(formatter.format(r) for r in caplog.records) + "\n".join(admin)
    for secret in ("my private symptom words", "Eddie", "eddie_secret", "8505", TOKEN.split(":")[1]):
        assert secret not in logs, secret
    assert "person=" in logs and "update_id=" in logs


async def _conversation(settings: Settings) -> list[dict[str, Any]]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return [dict(r.state) for r in (await session.execute(select(Conversation))).scalars()]
    finally:
        await db.dispose()
