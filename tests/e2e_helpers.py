"""Helpers for the end-to-end tests that run the real bot in this process against the fake Bot API.

``running_bot`` starts the PTB ``Application`` the way ``run_polling`` does and stops it
cleanly; ``telegram_bot`` is the ``TelegramBot`` behind a built application; ``begin``,
``to_area_question``, ``to_hold`` and ``spot_to_hold`` walk a simulated person (``FakeUser``)
through the first steps of a session; ``free_port`` is an unused TCP port on 127.0.0.1 for a
webhook server or a replica. The fixtures (``api``, ``make_settings``) are in
tests/e2e_fixtures.py.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.adapters.telegram import TelegramBot, build_application
from bot.settings import Settings
from tests.fakebotapi import FakeUser


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[Any]:
    """Start the app the way ``Application.run_polling`` does, hooks included, and stop it cleanly."""
    app = build_application(settings)
    await app.initialize()
    try:
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            await app.post_stop(app)
    finally:
        await app.shutdown()
        await app.post_shutdown(app)


async def begin(user: FakeUser) -> None:
    await user.send_command("start")
    await user.wait_for("Tap Begin")
    await user.press("Begin")
    await user.wait_for("Do any of these apply")


async def to_area_question(user: FakeUser) -> None:
    await begin(user)
    await user.press("None of these")
    await user.wait_for("Where is the knot?")


async def to_hold(user: FakeUser, area_text: str = "between my shoulder blades", seconds: int = 30) -> None:
    await to_area_question(user)
    await user.send_text(area_text)
    await spot_to_hold(user, seconds)


async def spot_to_hold(user: FakeUser, seconds: int = 30) -> None:
    """From "find the exact spot" to a hold that has begun (the recommended tool, steady pressure)."""
    await user.wait_for("find the exact spot")
    await user.press("Found it")
    await user.wait_for("What will you use")
    await user.press("recommended")
    await user.wait_for("Two ways")
    await user.press("Steady pressure")
    await user.wait_for("How long")
    await user.press(f"{seconds} s")
    await user.wait_for("Get into position")
    await user.press("Start")
    await user.wait_for("Press in now")


def telegram_bot(app: Any) -> TelegramBot:
    """The TelegramBot behind a built Application (its one handler is ``TelegramBot.on_update``)."""
    handler = app.handlers[0][0]
    bot = handler.callback.__self__
    assert isinstance(bot, TelegramBot)
    return bot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
