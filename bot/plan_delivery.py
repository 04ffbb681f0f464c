"""What the dispatcher does with a plan reminder that comes due (rules in :mod:`bot.domain.plan`).

It runs inside the dispatcher's claim transaction: it schedules the next planned
day's reminder (a row with its own unique key, so a retried claim cannot add it
twice), then sends this one, replaces it with the one gentle offer to pause, or
settles it unsent (a session that day already, a reminder that day already, too
late, or no active plan). Nothing about the plan is logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.content import Content
from bot.domain.effects import Kind, Message, message_from_payload, message_to_payload
from bot.domain.plan import Verdict, at_reminder, day_of_key, day_start, planned_at, reminder_key
from bot.domain.plan_chat import following, pause_offer_message, reminder_message
from bot.storage.models import Person, ScheduledMessage, Status
from bot.storage.plans import Plans
from bot.storage.repositories import Schedule as ScheduleRepo

PLAN_KINDS = frozenset({Kind.PLAN_REMINDER, Kind.PLAN_SNOOZED})


async def plan_row_now(
    session: AsyncSession,
    row: ScheduledMessage,
    person: Person,
    now: datetime,
    content: Content,
    *,
    time_scale: float = 1.0,
) -> Message | None:
    """The message to send now for a claimed plan row, or None if it was settled unsent."""
    schedule = ScheduleRepo(session)
    plans = Plans(session)
    plan = await plans.get(person.id)
    day = day_of_key(row.key)
    if plan is None or plan.paused or day is None:
        await schedule.settle(row.id, Status.CANCELLED, now, "no active plan")
        return None
    if row.first_due_at is not None:  # a send being retried: decided already, wording stored
        return message_from_payload(row.payload)
    profile = person.profile()
    kind = Kind(row.kind)
    if kind is Kind.PLAN_REMINDER:
        next_day, due = following(plan, day, row.due_at, now, profile, time_scale)
        upcoming = message_to_payload(reminder_message(plan, next_day, content))
        await schedule.add(person.id, reminder_key(plan, next_day), Kind.PLAN_REMINDER, due, upcoming)
        # local midnight of the planned day, on the dispatcher's clock (scaled like every wait)
        since = row.due_at - (planned_at(plan, day, profile) - day_start(day, profile)) * time_scale
        reminded = await plans.reminded_on(person.id, day, besides=row.id)
    else:  # a snooze: a session since the person asked for it
        since, reminded = row.created_at, False
    rules = content.plan
    verdict, counted = at_reminder(
        plan,
        late_seconds=(now - row.due_at).total_seconds(),
        useful_seconds=max(1.0, rules.reminder_useful_for_minutes * 60 * time_scale),
        done_today=await plans.had_round_since(person.id, since),
        reminded_today=reminded,
        ignored_before_offer=rules.ignored_before_pause_offer,
    )
    if kind is Kind.PLAN_SNOOZED and verdict is not Verdict.SKIP:
        verdict, counted = Verdict.SEND, plan  # asked for by the person: sent, and not counted as ignored
    if counted != plan:
        await plans.set_counters(person.id, counted)
    if verdict is Verdict.SKIP:
        await schedule.settle(row.id, Status.CANCELLED, now, "a session or a reminder that day already")
        return None
    if verdict is Verdict.DROP:
        await schedule.settle(row.id, Status.DROPPED, now, "too late to be useful")
        return None
    message = message_from_payload(row.payload)
    if verdict is Verdict.OFFER_PAUSE:
        message = pause_offer_message(plan, content)
        await schedule.set_payload(row.id, message_to_payload(message))  # a retry sends the same
    return message
