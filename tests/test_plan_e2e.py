"""The practice plan end to end: real PTB over HTTP to the fake Bot API, SQLite and PostgreSQL.

Time is scaled (KNOTBOT_TIME_SCALE). A plan is set for a local time a minute or two
ahead, in a UTC offset where it is midday now (never quiet hours); its reminder's due
time is read back from the database and scaled up again. DST and quiet hours are
checked with a fixed clock in tests/test_plan.py. The last test is the get-ready countdown and
pause/resume inside a hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from bot.storage.models import Person, PracticePlan, ScheduledMessage, SessionRound
from tests.e2e_helpers import running_bot, spot_to_hold, to_hold
from tests.fakebotapi import FakeBotAPI, FakeUser
from tests.followup_helpers import count, decided_at, meant, offset_where_it_is, offset_zone, query

T = TypeVar("T")
REMINDER = "Time for your 5-minute upper back session"


async def plan_rows(settings: Settings, user: FakeUser) -> list[ScheduledMessage]:
    async def work(session: AsyncSession) -> list[ScheduledMessage]:
        rows = await session.execute(
            select(ScheduledMessage)
            .join(Person, Person.id == ScheduledMessage.person_id)
            .where(Person.external_id == str(user.id), ScheduledMessage.key.startswith("plan:"))
            .order_by(ScheduledMessage.id)
        )
        return list(rows.scalars())

    return await query(settings, work)


async def stored_plan(settings: Settings, user: FakeUser) -> PracticePlan | None:
    async def work(session: AsyncSession) -> PracticePlan | None:
        found = await session.execute(
            select(PracticePlan)
            .join(Person, Person.id == PracticePlan.person_id)
            .where(Person.external_id == str(user.id))
        )
        return found.scalar_one_or_none()

    return await query(settings, work)


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


async def set_plan(user: FakeUser, minutes_ahead: int = 1) -> tuple[str, datetime]:
    """/plan: upper back, every day, at a local time ``minutes_ahead`` whole minutes ahead, in a zone
    where it is midday (given when the bot asks). Returns the zone and the local time planned."""
    zone_name = offset_where_it_is(12)
    local_now = datetime.now(UTC).astimezone(offset_zone(zone_name))
    planned = local_now.replace(second=0, microsecond=0) + timedelta(minutes=minutes_ahead + 1)
    await user.send_command("plan")
    await user.wait_for("Which areas")
    await user.press("Upper back")
    await user.wait_for(lambda m: "✓ Upper back" in m.buttons)
    await user.press("Done")
    await user.wait_for("On which days")
    await user.press("Every day")
    await user.wait_for("At what time")
    await user.send_text(planned.strftime("%H:%M"))
    await user.wait_for("time zone")
    await user.send_text(zone_name)
    await user.wait_for("Your plan is set")
    return zone_name, planned


async def test_the_reminder_arrives_at_the_local_time_and_start_opens_the_screening(
    api: FakeBotAPI, make_settings
) -> None:
    scale = 0.05  # a minute in 3 s
    settings = make_settings(time_scale=scale)
    async with running_bot(settings):
        ana = api.user(5101, "Ana")
        zone_name, planned = await set_plan(ana)
        summary = ana.texts[-1]
        assert f"at {planned:%H:%M}" in summary and zone_name in summary
        (row,) = await plan_rows(settings, ana)
        assert row.key == f"plan:r:1:{planned:%Y%m%d}" and row.status == "pending"
        decided = await decided_at(settings, ana)
        assert abs(meant(row, decided, scale) - planned) < timedelta(seconds=2)

        reminder = await ana.wait_for(REMINDER, timeout=15)
        labels = [b["text"] for r in reminder.keyboard for b in r]
        assert labels == ["Start", "Snooze 30 min", "Snooze 1 h", "Skip today", "Stop these reminders"]

        async def settled() -> bool:  # the fake API has it: "sent" is committed right after
            return [r.status for r in await plan_rows(settings, ana)] == ["sent", "pending"]

        await wait_until(settled, "the reminder is marked sent and the next one planned")
        rows = await plan_rows(settings, ana)
        assert rows[1].key == f"plan:r:1:{planned + timedelta(days=1):%Y%m%d}"  # only ever the next one
        assert abs(meant(rows[1], decided, scale) - (planned + timedelta(days=1))) < timedelta(seconds=2)

        await ana.press("Start")
        await ana.wait_for("Do any of these apply")  # the safety screening, every session
        await ana.press("None of these")
        await ana.wait_for("Got it: Upper back")
        # the session goes on as always; after it, the streak (and no plan offer: there is a plan)
        await spot_to_hold(ana)
        await ana.wait_for("How was the pressure?", timeout=15)
        await ana.press("Just right")
        await ana.wait_for("How does the knot feel")
        await ana.press("Softer")
        await ana.wait_for("What next?")
        await ana.press("Finish")
        await ana.wait_for("Your first session is done")
        await ana.wait_for("check in later")
        await ana.press("No, thanks")
        await ana.wait_idle()
        await ana.send_command("progress")
        await ana.wait_for("1 session this week")
    assert count(ana, "Would you like a reminder at a time that suits you") == 0
    assert count(ana, REMINDER) == 1
    api.assert_no_server_errors()


async def test_snooze_brings_it_back_and_skip_today_ends_the_day(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.005)  # 30 minutes in 9 s
    async with running_bot(settings):
        bo = api.user(5102, "Bo")
        await set_plan(bo)
        await bo.wait_for(REMINDER, timeout=15)
        await bo.press("Snooze 30 min")
        await bo.wait_for("I'll remind you again at")
        await bo.wait_for(lambda m: REMINDER.lower() in m.text.lower(), timeout=20)
        assert count(bo, REMINDER) == 2

        async def snooze_sent() -> bool:  # the fake API has it: "sent" is committed right after
            return any(r.kind == "plan_snoozed" and r.status == "sent" for r in await plan_rows(settings, bo))

        await wait_until(snooze_sent, "the snoozed reminder is marked sent")
        await bo.press("Skip today")
        await bo.wait_for("skipping today")
        await bo.wait_idle()
        rows = await plan_rows(settings, bo)
    assert [(r.kind, r.status) for r in rows] == [
        ("plan_reminder", "sent"),
        ("plan_reminder", "pending"),  # tomorrow's
        ("plan_snoozed", "sent"),
    ]
    api.assert_no_server_errors()


async def test_no_reminder_after_a_session_that_day(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.05)
    async with running_bot(settings):
        cy = api.user(5103, "Cy")
        await set_plan(cy)

        async def a_round(session: AsyncSession) -> None:  # a session Cy had today, before the reminder
            person = (
                await session.execute(select(Person).where(Person.external_id == str(cy.id)))
            ).scalar_one()
            session.add(
                SessionRound(
                    person_id=person.id,
                    session=1,
                    round=1,
                    area="upper_back",
                    tool="ball",
                    technique="static_pressure",
                    hold_seconds=30,
                    intensity="right",
                    knot="softer",
                )
            )

        await query(settings, a_round)

        async def settled() -> bool:
            return [r.status for r in await plan_rows(settings, cy)] == ["cancelled", "pending"]

        await wait_until(settled, "today's reminder is settled unsent and tomorrow's is planned")
        await cy.wait_idle()
    assert count(cy, REMINDER) == 0
    api.assert_no_server_errors()


PAUSE_OFFER = "Shall I pause your plan?"


async def test_ignored_reminders_bring_one_pause_offer_then_pause_and_resume(
    api: FakeBotAPI, make_settings
) -> None:
    settings = make_settings(time_scale=0.00001)  # a day in 0.86 s
    async with running_bot(settings):
        di = api.user(5104, "Di")
        await set_plan(di, minutes_ahead=0)
        # three reminders ignored, then the offer instead of the fourth, then reminders again
        await di.wait_for(lambda m: count(di, REMINDER) >= 5, timeout=30)
        texts = [t for t in di.texts if REMINDER in t or PAUSE_OFFER in t]
        assert [PAUSE_OFFER in t for t in texts[:5]] == [False, False, False, True, False]
        assert count(di, PAUSE_OFFER) == 1
        offer = next(m for m in di.messages if PAUSE_OFFER in m.text)
        await di.press_data(
            next(b["callback_data"] for r in offer.keyboard for b in r if "Pause" in b["text"])
        )
        await di.wait_for("Your plan is paused")
        paused_at = len(di.messages)
        plan = await stored_plan(settings, di)
        assert plan is not None and plan.paused and plan.hour is not None
        assert all(r.status != "pending" for r in await plan_rows(settings, di))
        await asyncio.sleep(3 * 86400 * 0.00001)  # three planned days pass: nothing comes
        await di.wait_idle()
        assert not any(REMINDER in m.text for m in di.messages[paused_at:])

        await di.send_command("plan")
        await di.wait_for("Paused")
        await di.press("Resume")
        await di.wait_for("Your plan is running again")
        plan = await stored_plan(settings, di)
        rows = await plan_rows(settings, di)
    assert plan is not None and not plan.paused and plan.areas == ["upper_back"]
    # the next reminder is planned again (the days already reminded in scaled time are skipped)
    assert [r.key.split(":")[2] for r in rows if r.status == "pending"] == [str(plan.rev)]
    api.assert_no_server_errors()


async def test_a_restart_with_a_reminder_pending_sends_it_once(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.05)
    async with running_bot(settings):
        ed = api.user(5105, "Ed")
        await set_plan(ed)
    # the bot is down while the reminder comes due
    (row,) = await plan_rows(settings, ed)
    wait = (row.due_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.5)
    async with running_bot(settings):
        await ed.wait_for(REMINDER, timeout=15, since=0)
        await ed.wait_idle(quiet=1.0)
    assert count(ed, REMINDER) == 1
    rows = await plan_rows(settings, ed)
    assert [r.status for r in rows] == ["sent", "pending"]
    api.assert_no_server_errors()


async def test_delete_erases_the_plan_and_its_reminders(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.05)
    async with running_bot(settings):
        fay = api.user(5106, "Fay")
        await set_plan(fay, minutes_ahead=2)
        await fay.send_command("delete")
        await fay.wait_for("erase")
        await fay.press("Yes, erase everything")
        await fay.wait_for("erased everything")
        assert await stored_plan(settings, fay) is None
        assert await plan_rows(settings, fay) == []
        await asyncio.sleep(8)  # past the planned time (at most 3 minutes ahead: 9 s)
        await fay.wait_idle()
    assert count(fay, REMINDER) == 0
    api.assert_no_server_errors()


async def test_blocking_the_bot_pauses_the_plan(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.05)
    async with running_bot(settings):
        gil = api.user(5107, "Gil")
        await set_plan(gil)
        api.block_user(gil.id)

        async def paused() -> bool:
            plan = await stored_plan(settings, gil)
            return plan is not None and plan.paused

        await wait_until(paused, "the plan is paused after the refused reminder")
        rows = await plan_rows(settings, gil)
    assert all(r.status != "pending" for r in rows), [(r.key, r.status) for r in rows]
    api.assert_no_server_errors()


async def test_get_ready_countdown_and_pause_resume_inside_a_hold(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.1)  # get ready 5 s → 0.5 s; a 30 s hold → 3 s
    async with running_bot(settings):
        hal = api.user(5108, "Hal")
        await to_hold(hal)  # presses Start, waits for "Press in now"
        texts = hal.texts
        start = max(i for i, t in enumerate(texts) if "Starting your 30-second hold" in t)
        after = [t.split(":")[0] for t in texts[start + 1 : start + 6]]
        assert after == [
            "Get into position",
            "3…",
            "2…",
            "1…",
            "Press in now and keep still. Aim for 4 to 7 out of 10",
        ]

        await hal.press("Pause")
        await hal.wait_for("Paused, with")
        paused_at = len(hal.messages)
        await asyncio.sleep(3.5)  # longer than the whole hold: nothing may come while paused
        await hal.wait_idle()
        assert hal.texts[paused_at:] == [], hal.texts[paused_at:]

        await hal.press("Resume")
        await hal.wait_for("Press in again")
        await hal.wait_for("Release the pressure gradually", timeout=15)
    for prompt in ("Breathe out slowly and for a long time", "Halfway", "Another slow, long breath out"):
        assert count(hal, prompt) == 1, prompt  # each prompt once: none lost, none doubled by the pause
    api.assert_no_server_errors()
