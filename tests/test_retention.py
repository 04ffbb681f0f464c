"""The retention job on a real database: old session details, long-gone people, old update ids
and settled messages go; everything recent, and anything still planned, stays."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.retention import JOB_ID, Retention
from bot.service import to_datetime
from bot.storage.db import Database
from bot.storage.models import (
    Conversation,
    FollowupChoice,
    GroupChat,
    Person,
    PracticePlan,
    ProcessedUpdate,
    ScheduledMessage,
    SessionRound,
)
from tests.runtime_fixtures import Clock

DAY = timedelta(days=1)


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_prunes_only_what_is_old_and_settled(database: Database, clock: Clock) -> None:
    now = to_datetime(clock())
    old, recent = now - 200 * DAY, now - 10 * DAY
    async with database.transaction() as session:
        active = Person(channel="telegram", external_id="1", chat_id="1", created_at=old)
        gone = Person(channel="telegram", external_id="2", chat_id="2", created_at=old)
        waiting = Person(channel="telegram", external_id="3", chat_id="3", created_at=old)
        session.add_all([active, gone, waiting])
        await session.flush()
        session.add_all(
            [
                Conversation(person_id=active.id, state={}, updated_at=recent),
                Conversation(person_id=gone.id, state={}, updated_at=old),
                Conversation(person_id=waiting.id, state={}, updated_at=old),
            ]
        )
        for created in (old, recent):
            session.add(
                SessionRound(
                    person_id=active.id,
                    session=1,
                    round=1,
                    area="neck",
                    tool="fingers",
                    technique="static_pressure",
                    hold_seconds=30,
                    intensity="right",
                    knot="same",
                    created_at=created,
                )
            )
            session.add(
                FollowupChoice(person_id=active.id, session=1, wanted=True, areas={}, created_at=created)
            )
        messages = [
            ("sent-old", "sent", now - 8 * DAY, waiting.id),
            ("sent-new", "sent", now - 1 * DAY, waiting.id),
            ("cancelled-old", "cancelled", now - 30 * DAY, waiting.id),
            ("pending-old", "pending", now - 30 * DAY, waiting.id),  # not settled: kept, and so is Ann 3
        ]
        for key, status, due, person_id in messages:
            session.add(
                ScheduledMessage(
                    person_id=person_id,
                    key=key,
                    kind="reply",
                    due_at=due,
                    payload={},
                    status=status,
                    sent_at=due if status == "sent" else None,
                )
            )
        session.add_all(
            [
                ProcessedUpdate(update_id=1, processed_at=now - 8 * DAY),
                ProcessedUpdate(update_id=2, processed_at=now - 1 * DAY),
            ]
        )

    pruned = await Retention(database, days=180, clock=clock).run_once()

    assert pruned.rows == {
        "session_rounds": 1,
        "followup_choices": 1,
        "people": 1,
        "processed_updates": 1,
        "scheduled_messages": 2,
    }
    async with database.transaction() as session:
        people = sorted((await session.execute(select(Person.external_id))).scalars())
        keys = sorted((await session.execute(select(ScheduledMessage.key))).scalars())
        updates = list((await session.execute(select(ProcessedUpdate.update_id))).scalars())
    assert people == ["1", "3"]
    assert keys == ["pending-old", "sent-new"]
    assert updates == [2]
    assert await _count(database, SessionRound) == 1
    assert await _count(database, Conversation) == 2
    again = await Retention(database, days=180, clock=clock).run_once()
    assert again.rows == {}


async def test_runs_on_the_scheduler_at_start_and_daily(database: Database, clock: Clock) -> None:
    scheduler = AsyncIOScheduler()
    scheduler.start()
    try:
        retention = Retention(database, days=180, clock=clock)
        retention.start(scheduler)
        job = scheduler.get_job(JOB_ID)
        assert job is not None and job.trigger.interval == DAY
        assert job.next_run_time <= to_datetime(clock()) + timedelta(seconds=1)
        await retention.stop()
        assert scheduler.get_job(JOB_ID) is None
    finally:
        scheduler.shutdown(wait=False)


async def test_every_inactive_person_is_erased_in_batches_and_old_group_notes_go(
    database: Database, clock: Clock
) -> None:
    """More people gone than one batch holds: one run erases them all, a batch per transaction."""
    now = to_datetime(clock())
    old = now - 200 * DAY
    async with database.transaction() as session:
        session.add_all(
            Person(channel="telegram", external_id=str(i), chat_id=str(i), created_at=old) for i in range(25)
        )
        session.add_all([GroupChat(chat_id="-1", noticed_at=old), GroupChat(chat_id="-2", noticed_at=now)])
    pruned = await Retention(database, days=180, clock=clock, batch=10).run_once()
    assert pruned.rows == {"people": 25, "group_chats": 1}
    assert await _count(database, Person) == 0
    async with database.transaction() as session:
        assert list((await session.execute(select(GroupChat.chat_id))).scalars()) == ["-2"]


async def test_the_plan_of_someone_silent_that_long_goes_with_them(database: Database, clock: Clock) -> None:
    """A plan keeps sending reminders, but someone who has not written for the retention period has
    it deleted and its reminder cancelled; then, with nothing planned, everything about them goes.
    The plan of someone who wrote recently stays, however old the plan is."""
    now = to_datetime(clock())
    old, recent = now - 200 * DAY, now - 10 * DAY
    async with database.transaction() as session:
        silent = Person(channel="telegram", external_id="41", chat_id="41", created_at=old)
        writes = Person(channel="telegram", external_id="42", chat_id="42", created_at=old)
        session.add_all([silent, writes])
        await session.flush()
        for person, last in ((silent, old), (writes, recent)):
            session.add(Conversation(person_id=person.id, state={}, updated_at=last))
            session.add(
                PracticePlan(
                    person_id=person.id,
                    areas=["neck"],
                    weekdays=[0, 1, 2, 3, 4, 5, 6],
                    hour=19,
                    minute=30,
                    paused=False,
                    rev=1,
                    ignored=5,
                    pause_offered=True,
                    created_at=old,
                    updated_at=old,
                )
            )
            session.add(
                ScheduledMessage(
                    person_id=person.id,
                    key="plan:r:1:20271208",
                    kind="plan_reminder",
                    due_at=now + DAY,
                    payload={"text": "x"},
                    status="pending",
                )
            )
    pruned = await Retention(database, days=180, clock=clock).run_once()
    assert pruned.rows.get("plans") == 1 and pruned.rows.get("people") == 1
    async with database.transaction() as session:
        people = list((await session.execute(select(Person.external_id))).scalars())
        plans = list((await session.execute(select(PracticePlan.person_id))).scalars())
        reminders = list((await session.execute(select(ScheduledMessage.status))).scalars())
    assert people == ["42"] and len(plans) == 1 and reminders == ["pending"]
