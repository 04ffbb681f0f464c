"""A plan through the service on a real database (SQLite and PostgreSQL): stored in one transaction
with its first reminder, in /mydata, erased by /delete."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.domain.events import Command, Event, Press, Text, decode_press
from bot.service import ConversationService, Handled
from bot.storage.db import Database
from bot.storage.models import Person, PracticePlan, ScheduledMessage
from bot.storage.privacy import export_person
from tests.runtime_fixtures import Clock


class Chat:
    def __init__(self, service: ConversationService, chat: str) -> None:
        self.service, self.chat, self.update = service, chat, 0
        self.last: Handled | None = None

    async def send(self, event: Event) -> Handled:
        self.update += 1
        self.last = await self.service.handle("telegram", self.chat, self.chat, event, update_id=self.update)
        return self.last

    async def press(self, label: str) -> Handled:
        assert self.last is not None
        for reply in reversed(self.last.replies):
            for row in reply.message.buttons:
                for button in row:
                    if button.label == label:
                        press = decode_press(button.data)
                        assert isinstance(press, Press)
                        return await self.send(press)
        raise AssertionError(label)


async def test_a_plan_is_stored_exported_and_erased(
    database: Database, content: Any, matcher: Any, clock: Clock
) -> None:
    service = ConversationService(database, content, matcher, clock=clock)
    ann = Chat(service, "601")
    await ann.send(Command("plan"))
    await ann.press("Neck")
    await ann.press("Done")
    await ann.press("Every day")
    await ann.send(Text("12:30"))
    done = await ann.send(Text("UTC+01:00"))
    assert "Your plan is set" in done.replies[-1].message.text
    assert done.scheduled_first is not None  # the waker is told about the first reminder
    async with database.transaction() as session:
        person = (await session.execute(select(Person).where(Person.external_id == "601"))).scalar_one()
        plan = await session.get(PracticePlan, person.id)
        rows = list(
            (
                await session.execute(
                    select(ScheduledMessage).where(ScheduledMessage.kind == "plan_reminder")
                )
            ).scalars()
        )
        export = await export_person(session, person.id)
    assert plan is not None and (plan.areas, plan.hour, plan.minute) == (["neck"], 12, 30)
    assert [r.status for r in rows] == ["pending"]
    assert export is not None and export["plans"][0]["areas"] == ["neck"]
    assert "12:30" not in json.dumps(export["plans"])  # stored as numbers, not text the person typed

    state_prompt = (await ann.send(Command("delete"))).replies[0].message.buttons[0][0].data
    press = decode_press(state_prompt)
    assert isinstance(press, Press)
    await ann.send(press)
    async with database.transaction() as session:
        assert (await session.execute(select(PracticePlan))).first() is None
        assert (await session.execute(select(ScheduledMessage))).first() is None
