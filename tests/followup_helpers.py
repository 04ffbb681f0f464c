"""Helpers for the follow-up and plan tests that run the real bot against the fake Bot API.

``finish`` takes a simulated person from the end of a hold to the time-zone question;
``offset_where_it_is`` and ``offset_zone`` give a whole-hour UTC offset where it is a given hour
now, and its tzinfo; ``query`` runs one read against the bot's database, ``decided_at`` reads the
bot's "now" for a person's latest update and ``meant`` turns a row's scaled due time back into
the real one the bot meant; ``count`` is how many of a person's messages contain a text. Used by
tests/test_followups_e2e.py, tests/test_plan_e2e.py and tests/test_ratelimit.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Conversation, Person, ScheduledMessage
from tests.fakebotapi import FakeUser

T = TypeVar("T")


async def finish(user: FakeUser) -> None:
    """From the end of the hold to the time-zone question (the first opt-in asks for it)."""
    await user.wait_for("How was the pressure?", timeout=15)
    await user.press("Just right")
    await user.wait_for("How does the knot feel")
    await user.press("Softer")
    await user.wait_for("What next?")
    await user.press("Finish")
    await user.wait_for("check in later")
    await user.press("Yes, check in")
    await user.wait_for("Share my location")


def offset_where_it_is(hour: int) -> str:
    """A whole-hour UTC offset where the local time now is ``hour``:MM (the minutes as in UTC)."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12
    return f"UTC{'+' if offset >= 0 else '-'}{abs(offset):02d}:00"


def offset_zone(name: str) -> tzinfo:
    """``UTC+05:00`` → a fixed-offset tzinfo (whole hours, as made by :func:`offset_where_it_is`)."""
    return timezone(timedelta(hours=int(name[3:6])))


async def query(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await work(session)
    finally:
        await db.dispose()


async def decided_at(settings: Settings, user: FakeUser) -> datetime:
    """The bot's exact "now" for the person's latest update (stored with the conversation state).

    A follow-up's due time is that instant plus the real wait times KNOTBOT_TIME_SCALE, so
    with it the real time the bot meant can be read back from the row.
    """

    async def work(session: AsyncSession) -> datetime:
        found = await session.execute(
            select(Conversation.updated_at)
            .join(Person, Person.id == Conversation.person_id)
            .where(Person.external_id == str(user.id))
        )
        return found.scalar_one()

    return await query(settings, work)


def meant(row: ScheduledMessage, decided: datetime, scale: float) -> datetime:
    """The unscaled due time: what the bot would wait for with KNOTBOT_TIME_SCALE=1."""
    return decided + (row.due_at - decided) / scale


def count(user: FakeUser, text: str) -> int:
    return sum(text in t for t in user.texts)
