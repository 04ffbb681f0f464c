"""Follow-ups through the real service, database and dispatcher, with a clock the test moves.

Runs on SQLite and on PostgreSQL (when it answers): the whole loop from a
finished session to the next-day check at the person's local hour, restarts,
a crash in the middle of a dispatch batch, follow-ups that come due late
(dropped, moved out of quiet hours, folded into the check, or sent with an
apology), and turning reminders off.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.delivery import Deliverer, Dispatcher
from bot.domain.content import Content
from bot.domain.events import Command, Event, Text, decode_press
from bot.domain.followups import late_wording, with_water
from bot.domain.matcher import Matcher
from bot.service import ConversationService
from bot.storage.db import Database
from bot.storage.models import CheckinAnswer, Person, ScheduledMessage
from tests.runtime_fixtures import Clock, RecordingTransport

CHAT = "2001"
SATURDAY_2PM_BERLIN = datetime(2026, 3, 28, 13, tzinfo=UTC).timestamp()  # DST starts that night


class Loop:
    def __init__(
        self, db: Database, content: Content, matcher: Matcher, transport: RecordingTransport
    ) -> None:
        self.db = db
        self.content = content
        self.transport = transport
        self.clock = Clock(SATURDAY_2PM_BERLIN)
        self.service = ConversationService(db, content, matcher, clock=self.clock)
        self.restart()

    def restart(self) -> None:
        """A new process: new deliverer and dispatcher, same database."""
        self.deliverer = Deliverer(self.db, self.transport, clock=self.clock)
        self.dispatcher = Dispatcher(self.db, self.deliverer, self.content, clock=self.clock)

    async def send(self, event: Event, chat: str = CHAT) -> None:
        handled = await self.service.handle("telegram", chat, chat, event)
        await self.deliverer.deliver(handled.replies)

    async def press(self, label: str, chat: str = CHAT) -> None:
        for sent in reversed(self.transport.sent):
            if sent.chat_id != chat:
                continue
            for row in sent.message.buttons:
                for button in row:
                    if label.lower() in button.label.lower():
                        await self.send(decode_press(button.data), chat)
                        return
        raise AssertionError(f"no button {label!r}")

    async def session_with_followups(self, chat: str = CHAT, city: str | None = "Berlin") -> None:
        await self.send(Command("massage"), chat)
        await self.press("None of these", chat)
        await self.send(Text("between my shoulder blades"), chat)
        for label in ("Found it", "Ball", "Steady pressure", "30 s", "Start"):
            await self.press(label, chat)
        self.clock.advance(self.content.session.get_ready_seconds + 31)  # get ready, then the hold
        await self.dispatcher.run_once()
        for label in ("Just right", "Softer", "Finish", "Yes, check in"):
            await self.press(label, chat)
        if city:
            await self.send(Text(city), chat)

    async def at(self, when: datetime) -> None:
        self.clock.now = when.timestamp()
        await self.dispatcher.run_once()

    def texts(self, chat: str = CHAT) -> list[str]:
        return self.transport.texts(chat)


@pytest.fixture
def loop(database: Database, content: Content, matcher: Matcher, transport: RecordingTransport) -> Loop:
    return Loop(database, content, matcher, transport)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        ("Better", "keep your upper back that way"),
        ("About the same", "ask again in a few days"),
        ("Worse", "get it checked"),
        ("tingles", "nerve is involved"),
    ],
)
async def test_full_loop_to_the_next_day_check(loop: Loop, answer: str, needle: str) -> None:
    await loop.session_with_followups()
    assert "Your time zone is Europe/Berlin" in "\n".join(loop.texts())
    await loop.at(utc(2026, 3, 28, 14, 29))  # 15:29 Berlin: not yet
    assert not any("drink a glass of water" in t for t in loop.texts())
    await loop.at(utc(2026, 3, 28, 14, 31))  # 90 minutes after the session
    assert loop.texts()[-1].startswith("💧")
    await loop.at(utc(2026, 3, 29, 7, 59))  # 09:59 CEST
    assert "How does your upper back feel today?" not in loop.texts()[-1]
    await loop.at(utc(2026, 3, 29, 8, 0))  # 10:00 CEST, the morning after the clocks changed
    assert loop.texts()[-1] == "How does your upper back feel today?"
    await loop.press(answer)
    assert needle in loop.texts()[-1]
    async with loop.db.transaction() as session:
        answers = (await session.execute(select(CheckinAnswer))).scalars().all()
    assert [(a.area, a.n) for a in answers] == [("upper_back", 0)]
    # answering twice keeps the first answer
    await loop.press(answer)
    async with loop.db.transaction() as session:
        assert len((await session.execute(select(CheckinAnswer))).scalars().all()) == 1


async def test_about_the_same_twice_leads_to_a_referral(loop: Loop) -> None:
    await loop.session_with_followups()
    await loop.at(utc(2026, 3, 29, 8))
    await loop.press("About the same")
    await loop.at(utc(2026, 4, 1, 7, 59))
    assert "feel today" not in loop.texts()[-1]
    await loop.at(utc(2026, 4, 1, 8))  # three days later, 10:00 CEST
    assert loop.texts()[-1].endswith("feel today?")
    await loop.press("About the same")
    assert "persists despite self-treatment" in loop.texts()[-1]


async def test_restart_with_pending_rows_delivers_each_once(loop: Loop) -> None:
    for chat in ("1", "2", "3"):
        await loop.session_with_followups(chat)
    loop.restart()  # the process restarted; nothing is in memory
    await loop.at(utc(2026, 3, 28, 15))
    loop.restart()
    await loop.at(utc(2026, 3, 29, 10))
    loop.restart()
    await loop.at(utc(2026, 3, 29, 11))
    for chat in ("1", "2", "3"):
        texts = loop.texts(chat)
        assert sum(t.startswith("💧") for t in texts) == 1
        assert sum(t.endswith("feel today?") for t in texts) == 1


async def test_crash_in_the_middle_of_a_dispatch_batch_loses_nothing(loop: Loop) -> None:
    for chat in ("1", "2", "3", "4", "5", "6"):
        await loop.session_with_followups(chat)
    await loop.at(utc(2026, 3, 28, 15))  # hydration reminders go out
    loop.clock.now = utc(2026, 3, 29, 8).timestamp()
    rows, _ = await loop.dispatcher._claim()  # the batch of checks is claimed ...
    assert len(rows) == 6
    await loop.deliverer.deliver(rows[:2])  # ... two are sent, then the process dies
    loop.restart()
    await loop.dispatcher.run_once()
    assert sum(t.endswith("feel today?") for t in loop.transport.texts()) == 2  # the rest are still leased
    loop.clock.advance(181)  # the dead process's lease runs out
    await loop.dispatcher.run_once()
    for chat in ("1", "2", "3", "4", "5", "6"):
        texts = loop.texts(chat)
        assert sum(t.startswith("💧") for t in texts) == 1, chat
        assert sum(t.endswith("feel today?") for t in texts) == 1, chat


async def row_of(loop: Loop, kind: str) -> ScheduledMessage:
    async with loop.db.transaction() as session:
        query = select(ScheduledMessage).where(ScheduledMessage.kind == kind)
        return (await session.execute(query)).scalar_one()


async def test_late_check_inside_quiet_hours_waits_for_the_morning(loop: Loop, content: Content) -> None:
    await loop.session_with_followups()
    before = len(loop.texts())
    await loop.at(utc(2026, 3, 29, 20))  # the bot was down all day; now 22:00 CEST
    texts = loop.texts()[before:]
    assert texts == []  # hydration is long pointless (dropped); the check waits for the morning
    check = await row_of(loop, "checkin")
    assert check.status == "pending" and check.last_error == "quiet hours"
    await loop.at(utc(2026, 3, 30, 5, 59))  # 07:59
    assert loop.texts()[before:] == []
    await loop.at(utc(2026, 3, 30, 6))  # 08:00 CEST, with words that fit a day late
    assert loop.texts()[before:] == [late_wording("How does your upper back feel today?", content)]
    assert (await row_of(loop, "hydration")).status == "dropped"


async def test_hydration_due_at_seven_pm_is_not_sent_at_three_am(loop: Loop) -> None:
    loop.clock.now = utc(2026, 3, 28, 16, 30).timestamp()  # 17:30 CET: hydration due at 19:00
    await loop.session_with_followups()
    before = len(loop.texts())
    await loop.at(utc(2026, 3, 29, 1))  # the bot comes back at 03:00 CEST (the clocks went forward)
    assert loop.texts()[before:] == []
    hydration = await row_of(loop, "hydration")
    assert hydration.status == "dropped" and (hydration.last_error or "").startswith("pointless")
    await loop.at(utc(2026, 3, 29, 8))  # 10:00 CEST: the check is on time
    assert loop.texts()[before:] == ["How does your upper back feel today?"]


async def test_late_hydration_at_night_moves_to_the_morning_with_fitting_words(
    loop: Loop, content: Content
) -> None:
    loop.clock.now = utc(2026, 3, 28, 18).timestamp()  # 19:00 CET: hydration due at 20:30
    await loop.session_with_followups()
    before = len(loop.texts())
    await loop.at(utc(2026, 3, 28, 20, 15))  # back at 21:15: 45 minutes late, quiet hours
    assert loop.texts()[before:] == []
    hydration = await row_of(loop, "hydration")
    assert hydration.status == "pending" and hydration.due_at == utc(2026, 3, 29, 6)  # 08:00 CEST
    await loop.at(utc(2026, 3, 29, 5, 59))
    assert loop.texts()[before:] == []
    await loop.at(utc(2026, 3, 29, 6))
    assert loop.texts()[before:] == [content.text("followup.hydration_morning")]
    await loop.at(utc(2026, 3, 29, 8))  # 10:00 CEST: the check, on its own
    assert loop.texts()[before:][1:] == ["How does your upper back feel today?"]
    assert (await row_of(loop, "hydration")).status == "sent"


async def test_late_hydration_moved_onto_the_check_is_folded_into_it(loop: Loop, content: Content) -> None:
    await loop.send(Command("reminders"))
    await loop.press("Change the time")
    await loop.press("08:00")  # the next-day check at the end of quiet hours
    loop.clock.now = utc(2026, 3, 28, 18).timestamp()  # 19:00 CET: hydration due at 20:30
    await loop.session_with_followups()
    before = len(loop.texts())
    await loop.at(utc(2026, 3, 28, 20, 15))  # back at 21:15, quiet hours: 08:00 is the check's time
    hydration = await row_of(loop, "hydration")
    assert hydration.status == "dropped" and hydration.last_error == "folded into the next-day check"
    await loop.at(utc(2026, 3, 29, 6))  # 08:00 CEST: one message, not two
    assert loop.texts()[before:] == [with_water("How does your upper back feel today?", content)]


async def test_late_check_in_the_afternoon_says_sorry(loop: Loop, content: Content) -> None:
    await loop.session_with_followups()
    before = len(loop.texts())
    await loop.at(utc(2026, 3, 29, 12))  # 14:00 CEST; the bot was down since the session
    assert loop.texts()[before:] == [late_wording("How does your upper back feel today?", content)]
    await loop.press("Better")  # the buttons still work
    assert "keep your upper back that way" in loop.texts()[-1]
    assert (await row_of(loop, "hydration")).status == "dropped"


async def test_stop_reminders_cancels_what_is_planned(loop: Loop) -> None:
    await loop.session_with_followups()
    await loop.at(utc(2026, 3, 28, 14, 31))
    await loop.press("Stop reminders")
    assert "Reminders are off" in loop.texts()[-1]
    await loop.at(utc(2026, 3, 29, 12))
    assert "Reminders are off" in loop.texts()[-1]
    async with loop.db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
        assert person.followups is False and person.tz == "Europe/Berlin"


async def test_no_time_zone_given_means_nothing_is_scheduled(loop: Loop) -> None:
    await loop.session_with_followups(city=None)
    await loop.at(utc(2026, 3, 30, 12))
    assert "time zone" in "\n".join(loop.texts()[-2:])
    async with loop.db.transaction() as session:
        kinds = {r.kind for r in (await session.execute(select(ScheduledMessage))).scalars()}
    assert not kinds & {"hydration", "checkin"}


async def checkin_rows(loop: Loop) -> list[ScheduledMessage]:
    async with loop.db.transaction() as session:
        query = select(ScheduledMessage).where(ScheduledMessage.kind == "checkin")
        return list((await session.execute(query.order_by(ScheduledMessage.id))).scalars())


async def test_a_check_is_answered_only_once_it_was_sent_and_only_once(loop: Loop) -> None:
    await loop.session_with_followups()
    [check] = await checkin_rows(loop)
    answer = f"k1:0:fu.chk:{check.key.removeprefix('fu:chk:')}:same"
    before = len(loop.transport.sent)
    await loop.send(decode_press(answer))  # the very data the check will carry, before it was sent
    assert len(loop.transport.sent) == before, "a forged answer gets only the stale toast"
    await loop.at(utc(2026, 3, 29, 8))  # the check goes out
    assert loop.texts()[-1] == "How does your upper back feel today?"
    for _ in range(3):  # one answer counts; the taps after it change nothing
        await loop.send(decode_press(answer))
    rows = await checkin_rows(loop)
    assert [r.key.rsplit(":", 1)[1] for r in rows] == ["0", "1"], "one repeat check, not three"
    async with loop.db.transaction() as session:
        assert len((await session.execute(select(CheckinAnswer))).scalars().all()) == 1


async def test_pending_rows_per_person_and_kind_are_capped(loop: Loop) -> None:
    """A safety net behind the checks in the core: however many sessions, at most the cap per kind."""
    loop.service.max_pending_per_kind = 3
    for i in range(5):  # five sessions with follow-ups in a row: each plans water and a check
        await loop.session_with_followups(city="Berlin" if i == 0 else None)
    async with loop.db.transaction() as session:
        rows = (await session.execute(select(ScheduledMessage.kind, ScheduledMessage.status))).all()
    pending = [kind for kind, status in rows if status == "pending"]
    assert pending.count("hydration") == 3 and pending.count("checkin") == 3, pending
