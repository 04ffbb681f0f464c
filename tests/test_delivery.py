"""Service, dispatcher and scheduler on a real database (SQLite, and PostgreSQL when it answers).

Drives the conversation through :class:`ConversationService` and sends with a
recording transport, so that what is stored and what is delivered are checked
together: replies, hold prompts, cancelling, dropping late prompts, retries,
blocked people and redelivered updates.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any, cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.delivery import SUPERSEDED, Deliverer, Dispatcher, Waker
from bot.domain.content import Content
from bot.domain.effects import Message
from bot.domain.events import Command, Event, Text, decode_press
from bot.domain.matcher import Matcher
from bot.runtime import Delivery
from bot.service import REPLY_LEASE, ConversationService, Handled, Outgoing, to_datetime
from bot.storage.db import Database
from bot.storage.models import Person, ScheduledMessage, SessionRound
from tests.runtime_fixtures import Clock, RecordingTransport, migrated_postgres_database, require_postgres

CHAT = "1001"


class Harness:
    """One person talking to the service; the transport records what they see."""

    def __init__(
        self, db: Database, content: Content, matcher: Matcher, transport: RecordingTransport, clock: Clock
    ) -> None:
        self.db = db
        self.content = content
        self.transport = transport
        self.clock = clock
        self.service = ConversationService(db, content, matcher, time_scale=1.0, clock=clock)
        self.deliverer = Deliverer(db, transport, clock=clock)
        self.dispatcher = Dispatcher(db, self.deliverer, content, clock=clock)
        self.update_id = 0

    async def send(self, event: Event, chat: str = CHAT, update_id: int | None = None) -> Handled:
        if update_id is None:
            self.update_id += 1
            update_id = self.update_id
        handled = await self.service.handle("telegram", chat, chat, event, update_id=update_id)
        await self.deliverer.deliver(handled.replies)
        return handled

    def last_buttons(self, chat: str = CHAT) -> list[tuple[str, str]]:
        for sent in reversed(self.transport.sent):
            if sent.chat_id == chat and sent.message.buttons:
                return [(b.label, b.data) for row in sent.message.buttons for b in row]
        raise AssertionError("no buttons yet")

    async def press(self, label: str, chat: str = CHAT) -> Handled:
        for text, data in self.last_buttons(chat):
            if label.lower() in text.lower():
                return await self.send(decode_press(data), chat)
        raise AssertionError(f"no button {label!r} in {self.last_buttons(chat)}")

    async def to_hold(self, chat: str = CHAT, seconds: int = 60) -> None:
        await self.send(Command("start"), chat)
        await self.press("Begin", chat)
        await self.press("None of these", chat)
        await self.send(Text("between my shoulder blades"), chat)
        await self.press("Found it", chat)
        await self.press("Ball", chat)
        await self.press("Steady pressure", chat)
        await self.press(f"{seconds} s", chat)
        await self.press("Start", chat)
        # the get-ready countdown, then "press in now": the hold begins
        self.clock.advance(self.content.session.get_ready_seconds)
        await self.dispatcher.run_once()

    async def statuses(self) -> dict[str, int]:
        async with self.db.transaction() as session:
            rows = await session.execute(
                select(ScheduledMessage.status, func.count()).group_by(ScheduledMessage.status)
            )
            return {status: int(n) for status, n in rows.all()}


def harness(
    database: Database, content: Content, matcher: Matcher, transport: RecordingTransport, clock: Clock
) -> Harness:
    return Harness(database, content, matcher, transport, clock)


async def test_replies_are_rows_marked_sent(database, content, matcher, transport, clock) -> None:
    h = harness(database, content, matcher, transport, clock)
    await h.send(Command("start"))
    assert "Knotbot" in transport.texts()[0]
    assert await h.statuses() == {"sent": 2}


async def test_redelivered_update_has_no_second_effect(database, content, matcher, transport, clock) -> None:
    h = harness(database, content, matcher, transport, clock)
    first = await h.send(Command("start"), update_id=77)
    again = await h.send(Command("start"), update_id=77)
    assert not first.duplicate and again.duplicate
    assert len(transport.sent) == 2


async def test_hold_prompts_arrive_in_order_then_the_rating(
    database, content, matcher, transport, clock
) -> None:
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=60)
    before = len(transport.sent)
    assert await h.dispatcher.run_once() == 0  # nothing due yet
    for _ in range(8):
        clock.advance(15)
        await h.dispatcher.run_once()
    texts = transport.texts()[before:]
    assert [t.split()[0] for t in texts] == ["Breathe", "Halfway.", "Another", "Time's"]
    assert "How was the pressure?" in texts[-1]
    await h.press("Just right")
    await h.press("Softer")
    async with database.transaction() as session:
        rounds = (await session.execute(select(SessionRound))).scalars().all()
    assert [(r.area, r.tool, r.technique, r.hold_seconds, r.knot) for r in rounds] == [
        ("upper_back", "ball", "static_pressure", 60, "softer")
    ]


async def test_stop_cancels_the_remaining_prompts(database, content, matcher, transport, clock) -> None:
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=60)
    clock.advance(16)
    await h.dispatcher.run_once()
    await h.press("Stop")
    stopped_at = len(transport.sent)
    clock.advance(120)
    await h.dispatcher.run_once()
    assert len(transport.sent) == stopped_at
    assert (await h.statuses())["cancelled"] == 3
    assert "How was the pressure?" in transport.texts()[-1]


async def test_late_prompts_are_dropped_with_one_note(database, content, matcher, transport, clock) -> None:
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=60)
    before = len(transport.sent)
    clock.advance(600)  # the bot was down for ten minutes
    await h.dispatcher.run_once()
    texts = transport.texts()[before:]
    assert texts[0] == content.text("hold.dropped")
    assert len(texts) == 2 and texts[1].startswith("Time's up")
    assert (await h.statuses())["dropped"] == 3


async def test_blocked_person_is_deactivated_and_others_still_receive(
    database, content, matcher, transport, clock
) -> None:
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(chat="1", seconds=60)
    await h.to_hold(chat="2", seconds=60)
    transport.blocked.add("1")
    clock.advance(61)
    await h.dispatcher.run_once()
    assert transport.texts("2")[-1].startswith("Time's up")
    async with database.transaction() as session:
        person = (await session.execute(select(Person).where(Person.external_id == "1"))).scalar_one()
        assert person.active is False
        pending = await session.scalar(
            select(func.count())
            .select_from(ScheduledMessage)
            .where(ScheduledMessage.person_id == person.id, ScheduledMessage.status == "pending")
        )
        assert pending == 0
    # writing again (unblocking) makes them active again
    transport.blocked.clear()
    await h.send(Text("hello"), chat="1")
    async with database.transaction() as session:
        person = (await session.execute(select(Person).where(Person.external_id == "1"))).scalar_one()
        assert person.active is True


async def test_temporary_failures_are_retried_with_backoff(
    database, content, matcher, transport, clock
) -> None:
    h = harness(database, content, matcher, transport, clock)
    transport.flaky[CHAT] = 2
    await h.send(Command("start"))
    assert transport.sent == []
    assert (await h.statuses()) == {"pending": 1, "claimed": 1} or (await h.statuses()).get("pending")
    for _ in range(6):
        clock.advance(5)
        await h.dispatcher.run_once()
    texts = transport.texts()
    assert texts[0].startswith("Hi, I'm Knotbot")
    assert len(texts) == 2
    assert await h.statuses() == {"sent": 2}


async def test_crashed_claim_is_resent_after_its_lease(database, content, matcher, transport, clock) -> None:
    """A reply claimed by a process that died before sending is delivered by the dispatcher later."""
    h = harness(database, content, matcher, transport, clock)
    handled = await h.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)
    assert handled.replies and transport.sent == []  # "crash": never delivered
    await h.dispatcher.run_once()
    assert transport.sent == []  # still leased to the dead process
    clock.advance(REPLY_LEASE.total_seconds() + 1)
    await h.dispatcher.run_once()
    assert len(transport.sent) == 2


async def test_a_dead_replicas_reply_is_dropped_once_a_later_reply_was_sent(
    database, content, matcher, transport, clock
) -> None:
    """Replicas: the replica that served /start died before sending its replies; the person wrote
    again and another replica answered. When the dead one's lease runs out, its replies are out of
    context (the person already has the answer to the later message): dropped, never sent."""
    h = harness(database, content, matcher, transport, clock)
    h.update_id = 1
    dead = await h.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)  # then kill -9
    await h.send(Command("start"))  # update 2: served and sent by another replica
    answered = transport.texts()
    assert len(answered) == 2
    clock.advance(REPLY_LEASE.total_seconds() + 1)
    await h.dispatcher.run_once()
    assert transport.texts() == answered  # nothing out of context
    async with database.transaction() as session:
        for reply in dead.replies:
            row = await session.get(ScheduledMessage, reply.row_id)
            assert row is not None and row.status == "dropped" and row.last_error == SUPERSEDED
    assert await h.statuses() == {"sent": 2, "dropped": 2}


async def test_on_postgres_a_dead_processs_claims_are_taken_over_at_once(content, matcher, clock) -> None:
    """Replicas: a process that dies holding claims (its claimer lock goes with its connection) has
    them taken over by the next dispatcher run elsewhere, not after their lease; the claims of a
    living process are left alone until their lease runs out."""
    await require_postgres()
    async with migrated_postgres_database() as url:
        dying, living = Database(url), Database(url)
        try:
            await dying.hold_claimer_lock()
            await living.hold_claimer_lock()
            assert dying.claimer is not None and living.claimer not in (None, dying.claimer)
            transport = RecordingTransport()
            served = Harness(dying, content, matcher, transport, clock)
            other = Harness(living, content, matcher, transport, clock)
            await served.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)
            await other.dispatcher.run_once()
            assert transport.sent == []  # claimed by a living process: its lease holds
            other.update_id = 1
            await other.send(Command("start"), chat="2002")  # the living one's own reply goes at once
            assert len(transport.sent) == 2
            await dying.dispose()  # kill -9: its connections, and with them its lock, are gone
            await other.dispatcher.run_once()
            texts = [s.message.text[:15] for s in transport.sent if s.chat_id == CHAT]
            assert texts == ["Hi, I'm Knotbot", "Tap Begin to st"]
            assert await other.statuses() == {"sent": 4}
        finally:
            await dying.dispose()
            await living.dispose()


async def test_a_reply_retried_after_a_failure_is_sent_even_after_later_replies(
    database, content, matcher, transport, clock
) -> None:
    """Superseding applies only to claims taken over from a process that died: a reply that failed
    (a 5xx, a 429) and waits to be tried again is late, not out of context, and is never dropped
    because the person's later replies went out meanwhile."""
    h = harness(database, content, matcher, transport, clock)
    transport.flaky[CHAT] = 1  # the first reply fails once and is retried later
    await h.send(Command("help"))
    await h.send(Command("help"))  # a later reply goes out meanwhile
    for _ in range(5):
        clock.advance(60)
        await h.dispatcher.run_once()
    helps = [t for t in transport.texts() if t.startswith("Here is what I can do")]
    assert len(helps) == 2  # none lost
    assert "dropped" not in await h.statuses()


async def test_a_slow_process_does_not_send_what_another_reclaimed(
    database, content, matcher, transport, clock
) -> None:
    """A reply whose lease ran out before its process sent it (an overloaded replica) and that
    another process re-claimed and sent is not sent a second time by the slow one."""
    h = harness(database, content, matcher, transport, clock)
    handled = await h.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)
    clock.advance(REPLY_LEASE.total_seconds() + 1)  # the slow process has not got to it yet
    await h.dispatcher.run_once()  # another process re-claims and sends
    assert len(transport.sent) == 2
    await h.deliverer.deliver(handled.replies)  # the slow process finally gets its turn
    assert len(transport.sent) == 2  # nothing twice
    assert await h.statuses() == {"sent": 2}


async def test_an_old_claim_nobody_took_is_renewed_and_sent_once(
    database, content, matcher, transport, clock
) -> None:
    h = harness(database, content, matcher, transport, clock)
    handled = await h.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)
    clock.advance(REPLY_LEASE.total_seconds() * 0.75)  # old, but nobody else took it
    first, second = handled.replies
    await h.deliverer.deliver([first])  # renews the lease, then sends
    assert len(transport.sent) == 1
    async with database.transaction() as session:
        row = await session.get(ScheduledMessage, second.row_id)
        assert row is not None and row.lease_until is not None
        lease_left = row.lease_until.replace(tzinfo=None) - to_datetime(clock()).replace(tzinfo=None)
    assert lease_left.total_seconds() < REPLY_LEASE.total_seconds() / 2  # the unsent one is not renewed
    clock.advance(REPLY_LEASE.total_seconds() * 0.5)  # its lease ran out: another process may take it
    await h.dispatcher.run_once()
    await h.deliverer.deliver([second])  # the slow process must not send it again
    assert [m.message.text for m in transport.sent].count(transport.sent[1].message.text) == 1
    assert len(transport.sent) == 2
    assert await h.statuses() == {"sent": 2}


async def test_waker_with_real_apscheduler_delivers_on_time(database, content, matcher, transport) -> None:
    """Real clock, real AsyncIOScheduler: a 30 s hold scaled by 0.02 ends in about 0.6 s."""
    service = ConversationService(database, content, matcher, time_scale=0.02)
    deliverer = Deliverer(database, transport)
    dispatcher = Dispatcher(database, deliverer, content)
    scheduler = AsyncIOScheduler()
    waker = Waker(scheduler, dispatcher, poll_seconds=30)
    scheduler.start()
    waker.start()
    try:

        async def send(event: Event) -> None:
            handled = await service.handle("telegram", CHAT, CHAT, event)
            await deliverer.deliver(handled.replies)
            waker.wake_at(handled.scheduled_first)

        async def press(label: str) -> None:
            buttons = [b for s in reversed(transport.sent) for row in s.message.buttons for b in row]
            await send(decode_press(next(b.data for b in buttons if label in b.label)))

        await send(Command("massage"))
        await press("None of these")
        await send(Text("calves"))
        for label in ("Found it", "Foam roller", "Steady", "30 s", "Start"):
            await press(label)
        started = time.monotonic()
        deadline = started + 10
        while not transport.texts()[-1].startswith("Time's up") and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert transport.texts()[-1].startswith("Time's up")
        assert not any(t == content.text("hold.dropped") for t in transport.texts())
    finally:
        scheduler.shutdown(wait=False)


def test_message_payload_round_trip() -> None:
    from bot.domain.effects import Button, message_from_payload, message_to_payload

    message = Message("hi", ((Button("a", "k1:1:x"), Button("b", "k1:1:y")),))
    assert message_from_payload(message_to_payload(message)) == message
    pictured = Message("set-up", attachment="area:neck:ball", about_attachment="In the picture: …")
    assert message_from_payload(message_to_payload(pictured)) == pictured


async def test_a_second_area_in_one_session_gets_its_own_hold(
    database, content, matcher, transport, clock
) -> None:
    """Hold keys are unique per hold: round 1 of a second area must not collide with the first area's."""
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=30)
    clock.advance(31)
    await h.dispatcher.run_once()
    await h.press("Just right")
    await h.press("Softer")
    await h.press("Another spot")
    await h.send(Text("calves"))
    for label in ("Found it", "Foam roller", "Steady", "30 s", "Start"):
        await h.press(label)
    before = len(transport.sent)
    clock.advance(content.session.get_ready_seconds + 31)  # get ready, then the hold
    await h.dispatcher.run_once()
    assert transport.texts()[before:][-1].startswith("Time's up")


async def test_one_persons_messages_stay_in_order_after_a_retry(
    database, content, matcher, transport, clock
) -> None:
    h = harness(database, content, matcher, transport, clock)
    transport.flaky[CHAT] = 1  # the greeting fails once; the question after it must wait
    await h.send(Command("start"))
    assert transport.sent == []
    for _ in range(4):
        clock.advance(2)
        await h.dispatcher.run_once()
    texts = transport.texts()
    assert texts[0].startswith("Hi, I'm Knotbot") and texts[1].startswith("Tap Begin")


async def test_after_an_outage_a_hold_keeps_its_order_and_drops_what_came_too_late(
    database, content, matcher, transport, clock
) -> None:
    """Telegram is unreachable for part of a hold: the prompt that failed is retried, but its
    lateness counts from when it was first due, so it is dropped once pointless; the prompts after
    it wait behind it across dispatch runs, so nothing arrives out of order."""
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=60)  # timed messages at 15, 30 and 45 s, the end of the hold at 60 s
    started = len(transport.sent)
    transport.flaky[CHAT] = 1_000  # the outage begins
    for second in range(1, 80):
        clock.advance(1)
        if second == 33:
            transport.flaky[CHAT] = 0  # and ends
        await h.dispatcher.run_once()
    async with database.transaction() as session:
        rows = (
            (
                await session.execute(
                    select(ScheduledMessage)
                    .where(ScheduledMessage.kind.in_(["hold_prompt", "hold_end"]))
                    .order_by(ScheduledMessage.id)
                )
            )
            .scalars()
            .all()
        )
    rows = [r for r in rows if not r.key.endswith(":0")]  # "press in now" went out in to_hold
    texts = transport.texts()[started:]
    status = {r.payload["text"]: r.status for r in rows}
    assert [status[r.payload["text"]] for r in rows if r.kind == "hold_prompt"][:1] == ["dropped"]
    assert rows[-1].kind == "hold_end" and status[rows[-1].payload["text"]] == "sent"
    sent_in_plan_order = [r.payload["text"] for r in rows if r.status == "sent"]
    arrived = [t for t in texts if t in status]
    assert arrived == sent_in_plan_order, texts  # in order, each once, the end last
    # (the one-line "offline" note is best effort: dropped during the outage, it was lost with it)


async def test_a_retried_row_counts_as_waiting_until_it_is_moved_to_a_new_plan(database) -> None:
    """A failed send keeps its first due time and holds the person's later messages behind it;
    a move out of quiet hours is a new plan: it stops counting as a retry (and holds nothing)."""
    from datetime import timedelta

    from bot.storage.repositories import People
    from bot.storage.repositories import Schedule as ScheduleRepo

    first = to_datetime(1_800_000_000.0)
    async with database.transaction() as session:
        person = await People(session).get_or_create("telegram", CHAT, CHAT)
        schedule = ScheduleRepo(session)
        row_id = await schedule.add(person.id, "fu:hyd:1", "hydration", first, {"text": "water"})
        assert row_id is not None
        lease = timedelta(seconds=60)
        for attempt, (at, again) in enumerate([(1, 30), (31, 90)], start=1):  # two failed sends
            assert [r.id for r in await schedule.claim_due(first + timedelta(seconds=at), 10, lease)] == [
                row_id
            ]
            retry_at = first + timedelta(seconds=again)
            await schedule.retry_later(row_id, retry_at, "502", attempt=attempt, keep_first_due=True)
        assert await schedule.retried_first_due([person.id]) == {
            person.id: (first, row_id, first + timedelta(seconds=90), False)
        }
        await schedule.claim_due(first + timedelta(seconds=91), 10, lease)
        await schedule.retry_later(row_id, first + timedelta(hours=10), "quiet hours", attempt=3)
        assert await schedule.retried_first_due([person.id]) == {}
        row = await session.get(ScheduledMessage, row_id)
        assert row is not None and row.first_due_at is None


class Exploding(RecordingTransport):
    """Raises an error that is not a Telegram one (a bug, a broken proxy) for some chats."""

    def __init__(self, broken: set[str]) -> None:
        super().__init__()
        self.broken = broken

    async def send(self, chat_id: str, message: Message, attachment: object = None) -> None:
        if chat_id in self.broken:
            raise RuntimeError("something nobody expected")
        await super().send(chat_id, message)


async def test_an_unexpected_send_error_is_retried_and_the_batch_goes_on(
    database, content, matcher, clock
) -> None:
    transport = Exploding(broken=set())
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(chat="1", seconds=60)
    await h.to_hold(chat="2", seconds=60)
    transport.broken.add("1")
    clock.advance(61)
    await h.dispatcher.run_once()  # chat 1's rows fail in a way nobody planned for
    assert transport.texts("2")[-1].startswith("Time's up"), "the rest of the batch went on"
    async with database.transaction() as session:
        person = (await session.execute(select(Person).where(Person.external_id == "1"))).scalar_one()
        rows = (
            await session.execute(select(ScheduledMessage).where(ScheduledMessage.person_id == person.id))
        ).scalars()
        waiting = [r for r in rows if r.status == "pending"]
    assert waiting and all(r.last_error for r in waiting), "back to pending, to be tried again"
    assert not any(r.status == "claimed" for r in waiting)
    transport.broken.clear()
    clock.advance(2)  # the backoff of a first retry
    await h.dispatcher.run_once()
    assert transport.texts("1")[-1].startswith("Time's up"), "sent on its next try"


async def test_rows_already_claimed_are_not_sent_after_delete_or_cancel(
    database, content, matcher, transport, clock
) -> None:
    """The dispatcher claimed a batch; meanwhile /delete erased the person (or /cancel cancelled the
    hold). What it still holds in memory for them is not sent."""
    from bot.domain.events import Command as Cmd

    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(chat="1", seconds=60)
    await h.to_hold(chat="2", seconds=60)
    clock.advance(61)
    rows, _ = await h.dispatcher._claim()
    assert {r.chat_id for r in rows} == {"1", "2"}
    await h.send(Cmd("delete"), chat="1")
    await h.press("Yes, erase", chat="1")
    await h.send(Cmd("cancel"), chat="2")
    before = len(transport.sent)
    await h.deliverer.deliver(rows, dispatched=True)
    assert transport.sent[before:] == [], [s.message.text[:30] for s in transport.sent[before:]]


async def test_a_due_prompt_waits_for_a_reply_still_being_sent_elsewhere(
    database, content, matcher, transport, clock
) -> None:
    """Replicas: the reply to Start ("Get into position…") is claimed and still being sent by the
    replica that served the update (waiting for its chat's pacing, say) when the countdown comes
    due on the leader: the leader's dispatcher must not send the countdown before it."""
    h = harness(database, content, matcher, transport, clock)
    await h.send(Command("start"))
    for label in ("Begin", "None of these"):
        await h.press(label)
    await h.send(Text("between my shoulder blades"))
    for label in ("Found it", "Ball", "Steady pressure", "60 s"):
        await h.press(label)
    start = next(data for text, data in h.last_buttons() if "Start" in text)
    h.update_id += 1
    handled = await h.service.handle("telegram", CHAT, CHAT, decode_press(start), update_id=h.update_id)
    before = len(transport.sent)
    clock.advance(content.session.get_ready_seconds - 0.5)  # countdown due, the reply not sent yet
    await h.dispatcher.run_once()
    assert transport.texts()[before:] == []  # nothing overtakes the reply
    await h.deliverer.deliver(handled.replies)  # the serving replica finally sends it
    clock.advance(1)
    await h.dispatcher.run_once()
    texts = transport.texts()[before:]
    replies = [reply.message.text for reply in handled.replies]
    assert texts[: len(replies)] == replies  # the reply first ...
    assert texts[len(replies)] == "3…" and texts[-1].startswith("Press in now")  # ... then the countdown


async def test_after_a_restart_on_sqlite_claims_of_the_dead_process_go_out_at_once(
    database, content, matcher, transport, clock
) -> None:
    """One process (SQLite): a reply claimed by a process killed before it sent it is taken over at
    start-up, not after its lease, and sent once."""
    h = harness(database, content, matcher, transport, clock)
    await h.service.handle("telegram", CHAT, CHAT, Command("start"), update_id=1)  # then kill -9
    clock.advance(2)  # the restart
    assert await h.dispatcher.reclaim_after_restart() == 2
    await h.dispatcher.run_once()
    assert [t[:15] for t in transport.texts()] == ["Hi, I'm Knotbot", "Tap Begin to st"]
    assert await h.dispatcher.reclaim_after_restart() == 0  # nothing claimed any more
    await h.dispatcher.run_once()
    assert len(transport.sent) == 2 and await h.statuses() == {"sent": 2}


async def test_prompts_dropped_in_two_dispatch_runs_give_one_note(
    database, content, matcher, transport, clock
) -> None:
    """The bot (or a replica) falls behind twice in one hold: each late prompt is dropped, but the
    person reads "I was offline for part of your hold" once."""
    h = harness(database, content, matcher, transport, clock)
    await h.to_hold(seconds=60)
    before = len(transport.sent)
    late = content.session.prompt_late_after_seconds + 1
    clock.advance(15 + late)  # the first prompt ("Breathe out", at 15 s) comes too late
    await h.dispatcher.run_once()
    clock.advance(15 + late)  # and the one at 30 s ("Halfway") too, on the next run
    await h.dispatcher.run_once()
    clock.advance(60)
    await h.dispatcher.run_once()
    texts = transport.texts()[before:]
    assert texts.count(content.text("hold.dropped")) == 1, texts
    assert texts[-1].startswith("Time's up")


async def test_after_update_sends_replies_then_direct_then_sets_the_wake_up() -> None:
    """The one after-update sequence both adapters use (bot.runtime.Delivery.after_update)."""
    calls: list[tuple[str, object]] = []

    class FakeDeliverer:
        async def deliver(self, rows: list[Outgoing], *, defer_paced: bool = False) -> None:
            calls.append(("deliver", (rows, defer_paced)))

        async def send_direct(self, rows: list[Outgoing]) -> None:
            calls.append(("send_direct", rows))

    class FakeWaker:
        def wake_at(self, when: object) -> None:
            calls.append(("wake_at", when))

    reply = Outgoing(row_id=1, person_id=1, chat_id=CHAT, kind="reply", message=Message("hi"))
    farewell = Outgoing(row_id=-1, person_id=1, chat_id=CHAT, kind="farewell", message=Message("bye"))
    first = to_datetime(1_000.0) + timedelta(seconds=5)
    handled = Handled(replies=[reply], direct=[farewell], scheduled_first=first)
    delivery = Delivery(
        deliverer=cast(Any, FakeDeliverer()),
        dispatcher=cast(Any, None),
        waker=cast(Any, FakeWaker()),
        retention=cast(Any, None),
    )
    await delivery.after_update(handled)
    await delivery.after_update(handled, defer_paced=True)
    step = [("deliver", ([reply], False)), ("send_direct", [farewell]), ("wake_at", first)]
    assert calls == [*step, ("deliver", ([reply], True)), *step[1:]]
