"""Crash tests: the real bot runs as ``python -m bot`` in a subprocess against the fake Bot API in
this process, is killed with SIGKILL (no clean-up of any kind) mid-session and mid-dispatch, and
is started again. Every conversation and every scheduled message must come through intact.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import ScheduledMessage
from tests.bot_process import BotProcess
from tests.e2e_helpers import to_hold
from tests.fakebotapi import FakeBotAPI

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
GREETING = "Hi, I'm Knotbot"


@asynccontextmanager
async def bot_process(api: FakeBotAPI, workdir: Path) -> AsyncIterator[BotProcess]:
    bot = BotProcess(api, workdir)
    try:
        yield bot
    finally:
        await bot.stop()


async def _wait_for_call(api: FakeBotAPI, method: str, count: int = 1, timeout: float = 30) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while len(api.calls_to(method)) < count:
        assert time.monotonic() < deadline, f"no {method} call within {timeout}s"
        await api._wait_changed(0.1)


async def _rows(url: str) -> list[ScheduledMessage]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return list((await session.execute(select(ScheduledMessage))).scalars())
    finally:
        await db.dispose()


async def test_kill_9_mid_session_and_restart(api: FakeBotAPI, tmp_path: Path) -> None:
    async with bot_process(api, tmp_path) as bot:
        await bot.start()
        hal = api.user(9101, "Hal")
        await to_hold(hal)  # a 30 s hold is 3 s here; its prompts are rows due in the next 3 s
        await bot.kill9()
        pending = [r for r in await _rows(bot.database_url) if r.key.startswith("hold:")]
        assert pending and all(r.status in ("pending", "claimed", "sent", "dropped") for r in pending), (
            "planned prompts survive"
        )
        seen = len(hal.messages)
        await bot.start()
        await hal.wait_for("Release the pressure gradually", timeout=40, since=seen)
        await hal.press("Just right")
        await hal.wait_for("How does the knot feel", timeout=30)
        await hal.press("Softer")
        await hal.wait_for("What next?", timeout=30)
        await hal.wait_idle(quiet=1.5, timeout=30)
        rows = await _rows(bot.database_url)
    assert not [r for r in rows if r.status in ("pending", "claimed")], bot.logs()
    holds = [r for r in rows if r.key.startswith("hold:")]
    assert {r.status for r in holds} <= {"sent", "dropped", "cancelled"}  # none left pending or lost
    assert sum("Release the pressure gradually" in t for t in hal.texts) == 1
    assert sum("Halfway" in t for t in hal.texts) <= 1
    assert "Traceback" not in bot.logs() or "update failed" not in bot.logs()


async def test_kill_9_mid_dispatch_loses_nothing_and_doubles_nothing(api: FakeBotAPI, tmp_path: Path) -> None:
    async with bot_process(api, tmp_path) as bot:
        await bot.start()
        ann = api.user(9201, "Ann")
        await ann.send_command("start")
        await ann.wait_for(GREETING, timeout=40)
        await ann.wait_idle()
        sent_before = len(api.calls_to("sendMessage"))
        api.set_latency("sendMessage", 30.0)  # Telegram hangs while the bot is sending
        await ann.send_command("massage")
        bob = api.user(9202, "Bob")
        await bob.send_command("start")  # queued behind Ann's update: fetched, not yet handled
        await _wait_for_call(api, "sendMessage", sent_before + 1)
        await (
            bot.kill9()
        )  # mid-dispatch: Ann's reply rows are committed and claimed, Bob's update not handled
        api.set_latency("sendMessage", 0.0)
        rows = await _rows(bot.database_url)
        assert any(r.status == "claimed" for r in rows), "the reply being sent is a committed row"
        await bot.start()
        await ann.wait_for("Do any of these apply", timeout=40, since=0)
        await bob.wait_for(GREETING, timeout=40, since=0)
        await ann.wait_idle(quiet=1.5, timeout=30)
        await bob.wait_idle(quiet=1.5, timeout=30)
        rows = await _rows(bot.database_url)
    assert sum("Do any of these apply" in t for t in ann.texts) == 1
    assert sum("safety check" in t for t in ann.texts) == 1
    assert sum(GREETING in t for t in bob.texts) == 1
    assert sum(GREETING in t for t in ann.texts) == 1
    assert not [r for r in rows if r.status in ("pending", "claimed")], bot.logs()
