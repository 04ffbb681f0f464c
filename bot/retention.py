"""The retention job: erase what is no longer needed, once at start and then daily.

- session details (rounds, follow-up choices and any other per-person record
  with a ``created_at``) older than ``KNOTBOT_RETENTION_DAYS`` (default 180);
- the practice plan of someone who has not written for that long (its reminders
  are cancelled, so the next step can erase them);
- people who have not written for that long and have nothing planned: every row
  about them (as /delete does);
- ``processed_updates`` older than 7 days (Telegram redelivers for 24 hours at most);
- settled ``scheduled_messages`` (sent, cancelled, failed, dropped) older than 7 days;
- ``group_chats`` told "private chats only" longer ago than ``KNOTBOT_RETENTION_DAYS`` (a group
  the bot is still in gets the note once more).

It runs on the same APScheduler instance that wakes the dispatcher, in one
transaction per step (people are erased :data:`PEOPLE_BATCH` at a time, one transaction each,
until none is left), so a crash part-way leaves every step or batch either done or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.domain import DEFAULT_RETENTION_DAYS
from bot.service import to_datetime
from bot.storage.db import Database
from bot.storage.models import Conversation, GroupChat, Person, ProcessedUpdate, ScheduledMessage, Status
from bot.storage.plans import Plans
from bot.storage.privacy import forget_person, personal_tables

log = logging.getLogger(__name__)

BOOKKEEPING_DAYS = 7
# per-person tables that are not "session details": they live as long as the person does
KEPT_WITH_PERSON = frozenset({"conversations", "scheduled_messages", "plans"})
JOB_ID = "knotbot-retention"
PEOPLE_BATCH = 1000  # people erased per transaction; a run goes on until none is left


@dataclass
class Pruned:
    """Rows removed, by table."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        if n:
            self.rows[table] = self.rows.get(table, 0) + n


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def session_tables() -> list[Table]:
    """Per-person tables of session details: pruned by age."""
    return [t for t in personal_tables() if t.name not in KEPT_WITH_PERSON and "created_at" in t.c]


class Retention:
    """Prunes old rows; ``start`` registers a daily job (plus one right away) on a scheduler."""

    def __init__(
        self,
        db: Database,
        *,
        days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        batch: int = PEOPLE_BATCH,
    ) -> None:
        self.db = db
        self.days = days
        self.clock = clock
        self.batch = batch
        self.scheduler: Any = None
        self._running: set[asyncio.Task[object]] = set()

    def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        scheduler.add_job(
            self.tick,
            "interval",
            days=1,
            id=JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=to_datetime(self.clock()),
        )

    async def stop(self) -> None:
        """Remove the job and wait for a run in progress, so the database can be closed."""
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(JOB_ID)
            self.scheduler = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def tick(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            pruned = await self.run_once()
        except Exception:
            metrics.ERRORS.labels(where="retention").inc()
            log.exception("retention run failed; it runs again tomorrow")
            return
        finally:
            if task is not None:
                self._running.discard(task)
        for table, n in pruned.rows.items():
            metrics.PRUNED.labels(table=table).inc(n)
        if pruned.rows:
            log.info("retention pruned %s", " ".join(f"{t}={n}" for t, n in sorted(pruned.rows.items())))

    async def run_once(self) -> Pruned:
        now = to_datetime(self.clock())
        cutoff = now - timedelta(days=self.days)
        bookkeeping = now - timedelta(days=BOOKKEEPING_DAYS)

        async def details(session: AsyncSession) -> Pruned:
            done = Pruned()
            for table in session_tables():
                result = await session.execute(delete(table).where(table.c.created_at < cutoff))
                done.add(table.name, _count(result))
            return done

        async def plans(session: AsyncSession) -> Pruned:
            done = Pruned()
            done.add("plans", len(await Plans(session).prune_silent(cutoff)))
            return done

        async def gone(session: AsyncSession) -> Pruned:
            done = Pruned()
            for person_id in await self._gone_people(session, cutoff, self.batch):
                await forget_person(session, person_id)
                done.add("people", 1)
            return done

        async def groups(session: AsyncSession) -> Pruned:
            done = Pruned()
            result = await session.execute(delete(GroupChat).where(GroupChat.noticed_at < cutoff))
            done.add("group_chats", _count(result))
            return done

        async def updates(session: AsyncSession) -> Pruned:
            done = Pruned()
            result = await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < bookkeeping)
            )
            done.add("processed_updates", _count(result))
            return done

        async def settled(session: AsyncSession) -> Pruned:
            done = Pruned()
            result = await session.execute(
                delete(ScheduledMessage).where(
                    ScheduledMessage.status.in_(
                        [Status.SENT, Status.CANCELLED, Status.FAILED, Status.DROPPED]
                    ),
                    ScheduledMessage.due_at < bookkeeping,
                    or_(ScheduledMessage.sent_at.is_(None), ScheduledMessage.sent_at < bookkeeping),
                )
            )
            done.add("scheduled_messages", _count(result))
            return done

        pruned = Pruned()
        for step in (details, plans, gone, updates, settled, groups):
            while True:
                done: Pruned = await self.db.run(step)  # one transaction per step (or batch)
                for table, n in done.rows.items():
                    pruned.add(table, n)
                if step is not gone or done.rows.get("people", 0) < self.batch:
                    break
        return pruned

    @staticmethod
    async def _gone_people(session: AsyncSession, cutoff: datetime, limit: int) -> list[int]:
        """Up to ``limit`` people with no conversation change since ``cutoff`` and nothing pending
        or claimed."""
        planned = exists().where(
            and_(
                ScheduledMessage.person_id == Person.id,
                ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED]),
            )
        )
        recent = exists().where(and_(Conversation.person_id == Person.id, Conversation.updated_at >= cutoff))
        query = select(Person.id).where(Person.created_at < cutoff, ~planned, ~recent).limit(limit)
        return list((await session.execute(query)).scalars())
