"""The plans table, and the look-ups a due plan reminder needs. Never commits (the caller owns the
transaction), like :mod:`bot.storage.repositories`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.plan import KEY_PREFIX, REMINDER_KEY_PREFIX, Plan, day_key
from bot.storage.models import Conversation, PracticePlan, ScheduledMessage, SessionRound, Status, utcnow


def _plan(row: PracticePlan) -> Plan:
    return Plan(
        areas=tuple(str(a) for a in row.areas),
        weekdays=tuple(int(d) for d in row.weekdays),
        hour=row.hour,
        minute=row.minute,
        paused=row.paused,
        rev=row.rev,
        ignored=row.ignored,
        pause_offered=row.pause_offered,
    )


class Plans:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: int) -> Plan | None:
        row = await self.session.get(PracticePlan, person_id)
        return _plan(row) if row is not None else None

    async def save(self, person_id: int, plan: Plan) -> None:
        row = await self.session.get(PracticePlan, person_id)
        if row is None:
            row = PracticePlan(person_id=person_id)
            self.session.add(row)
        row.areas = list(plan.areas)
        row.weekdays = list(plan.weekdays)
        row.hour = plan.hour
        row.minute = plan.minute
        row.paused = plan.paused
        row.rev = plan.rev
        row.ignored = plan.ignored
        row.pause_offered = plan.pause_offered
        row.updated_at = utcnow()

    async def delete(self, person_id: int) -> None:
        await self.session.execute(delete(PracticePlan).where(PracticePlan.person_id == person_id))

    async def set_counters(self, person_id: int, plan: Plan) -> None:
        """The dispatcher's bookkeeping (ignored reminders, pause offered); not a change by the person."""
        await self.session.execute(
            update(PracticePlan)
            .where(PracticePlan.person_id == person_id)
            .values(ignored=plan.ignored, pause_offered=plan.pause_offered)
        )

    async def pause(self, person_id: int) -> None:
        """The person blocked the bot: no more reminders, settings kept (``/plan`` resumes)."""
        await self.session.execute(
            update(PracticePlan)
            .where(PracticePlan.person_id == person_id)
            .values(paused=True, rev=PracticePlan.rev + 1, updated_at=utcnow())
        )

    async def recent_areas(self, person_id: int, limit: int = 40) -> tuple[str, ...]:
        """Areas of the person's latest rounds, newest first, each once."""
        rows = await self.session.execute(
            select(SessionRound.area)
            .where(SessionRound.person_id == person_id)
            .order_by(SessionRound.id.desc())
            .limit(limit)
        )
        return tuple(dict.fromkeys(str(a) for a in rows.scalars()))

    async def had_round_since(self, person_id: int, since: datetime) -> bool:
        query = select(exists().where(SessionRound.person_id == person_id, SessionRound.created_at >= since))
        return bool((await self.session.execute(query)).scalar())

    async def reminded_on(self, person_id: int, day: date, *, besides: int) -> bool:
        """Was a reminder for planned ``day`` (other than row ``besides``, of any plan revision)
        sent to the person already?"""
        query = select(
            exists().where(
                ScheduledMessage.person_id == person_id,
                ScheduledMessage.id != besides,
                ScheduledMessage.key.startswith(REMINDER_KEY_PREFIX, autoescape=True),
                ScheduledMessage.key.endswith(f":{day_key(day)}", autoescape=True),
                ScheduledMessage.status == Status.SENT,
            )
        )
        return bool((await self.session.execute(query)).scalar())

    async def prune_silent(self, cutoff: datetime) -> list[int]:
        """Delete the plans of people who have not written since ``cutoff`` and cancel their plan
        reminders (retention); returns whose."""
        silent = ~exists().where(
            Conversation.person_id == PracticePlan.person_id, Conversation.updated_at >= cutoff
        )
        ids = list((await self.session.execute(select(PracticePlan.person_id).where(silent))).scalars())
        if not ids:
            return []
        await self.session.execute(delete(PracticePlan).where(PracticePlan.person_id.in_(ids)))
        await self.session.execute(
            update(ScheduledMessage)
            .where(
                ScheduledMessage.person_id.in_(ids),
                ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED]),
                ScheduledMessage.key.startswith(KEY_PREFIX, autoescape=True),
            )
            .values(status=Status.CANCELLED)
        )
        return ids
