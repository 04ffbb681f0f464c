"""Queries on the tables, one small class per table. Repositories never commit:
the caller owns the transaction (see :meth:`bot.storage.db.Database.transaction`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.decision import CheckStatus
from bot.domain.followups import CheckRef
from bot.domain.progress import RoundRating
from bot.domain.state import State
from bot.storage.db import CLAIMER, CLAIMER_LOCK_CLASS
from bot.storage.models import (
    CheckinAnswer,
    Conversation,
    FollowupChoice,
    GroupChat,
    MediaFile,
    Person,
    ProcessedUpdate,
    ScheduledMessage,
    SessionRound,
    Status,
)

# last_error of a row moved only because its chat's pacing would have made it wait (the dispatcher
# sends other chats' rows meanwhile): that wait does not make it late
PACED = "behind its chat's pacing"


def dialect_name(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def _insert_ignoring_conflicts(session: AsyncSession, table: Any, values: list[dict[str, Any]]) -> Any:
    dialect = dialect_name(session)
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database: {dialect}")


class People:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, channel: str, external_id: str, chat_id: str) -> Person:
        stmt = _insert_ignoring_conflicts(
            self.session,
            Person.__table__,
            [{"channel": channel, "external_id": external_id, "chat_id": chat_id, "active": True}],
        )
        await self.session.execute(stmt)
        person = (
            await self.session.execute(
                select(Person).where(Person.channel == channel, Person.external_id == external_id)
            )
        ).scalar_one()
        if person.chat_id != chat_id or not person.active:
            person.chat_id = chat_id
            person.active = True
        return person

    async def lock(self, person: Person) -> None:
        """Serialise one person's updates across processes (SQLite: BEGIN IMMEDIATE already did)."""
        if dialect_name(self.session) == "postgresql":
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": person.id})

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def set_inactive(self, person_id: int) -> None:
        await self.session.execute(update(Person).where(Person.id == person_id).values(active=False))


class Conversations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, person_id: int) -> State:
        row = await self.session.get(Conversation, person_id)
        return State.from_json(row.state if row else None)

    async def save(self, person_id: int, state: State, now: datetime) -> None:
        row = await self.session.get(Conversation, person_id)
        if row is None:
            self.session.add(
                Conversation(person_id=person_id, state=state.to_json(), version=1, updated_at=now)
            )
        else:
            row.state = state.to_json()
            row.version += 1
            row.updated_at = now


class Updates:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, update_id: int) -> bool:
        """Record ``update_id``; False if it was handled before."""
        stmt = _insert_ignoring_conflicts(self.session, ProcessedUpdate.__table__, [{"update_id": update_id}])
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))


class Records:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_round(self, person_id: int, **values: Any) -> None:
        self.session.add(SessionRound(person_id=person_id, **values))

    async def ratings(self, person_id: int) -> list[RoundRating]:
        """The person's rated rounds, oldest first (for /progress)."""
        rows = await self.session.execute(
            select(SessionRound.session, SessionRound.area, SessionRound.knot, SessionRound.created_at)
            .where(SessionRound.person_id == person_id)
            .order_by(SessionRound.session, SessionRound.created_at, SessionRound.id)
        )
        return [RoundRating(session=s, area=a, knot=k, at=at) for s, a, k, at in rows]

    async def add_checkin(self, person_id: int, session: int, area: str, n: int, answer: str) -> None:
        """Record an answer; a second tap on the same check is ignored (the first answer stands)."""
        stmt = _insert_ignoring_conflicts(
            self.session,
            CheckinAnswer.__table__,
            [{"person_id": person_id, "session": session, "area": area, "n": n, "answer": answer}],
        )
        await self.session.execute(stmt)

    async def check_status(self, person_id: int, check: CheckRef) -> CheckStatus | None:
        """What became of a next-day check: answered, sent and open, or None (never sent to this
        person: forged, or its row is gone)."""
        answered = await self.session.execute(
            select(CheckinAnswer.id).where(
                CheckinAnswer.person_id == person_id,
                CheckinAnswer.session == check.session,
                CheckinAnswer.area == check.area,
                CheckinAnswer.n == check.n,
            )
        )
        if answered.first() is not None:
            return CheckStatus.ANSWERED
        sent = await self.session.execute(
            select(ScheduledMessage.id).where(
                ScheduledMessage.person_id == person_id,
                ScheduledMessage.key == check.key,
                # claimed: being sent, so possibly on screen already (the at-least-once window)
                ScheduledMessage.status.in_([Status.SENT, Status.CLAIMED]),
            )
        )
        return CheckStatus.OPEN if sent.first() is not None else None

    def add_followup_choice(self, person_id: int, session: int, wanted: bool, areas: Sequence[str]) -> None:
        self.session.add(
            FollowupChoice(person_id=person_id, session=session, wanted=wanted, areas={"areas": list(areas)})
        )


class Waiting(NamedTuple):
    """A person's messages waiting for another try: the first in sending order (when it was first
    due, its id) and the latest time any of them is tried next."""

    first_due: datetime
    row_id: int
    last_due: datetime
    paced: bool  # every one of them waits only for the chat's pacing (no failed send among them)

    def before(self, first_due: datetime, row_id: int) -> bool:
        """True if the first waiting message goes before the message (``first_due``, ``row_id``)."""
        return (self.first_due, self.row_id) < (first_due, row_id)


# a dead process's claim is taken over as if its lease had ended just now
DEAD_CLAIM = timedelta(milliseconds=1)


class Schedule:
    """The scheduled_messages table: insert, cancel, claim and settle rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        person_id: int,
        key: str,
        kind: str,
        due_at: datetime,
        payload: dict[str, Any],
        *,
        late_after_s: float | None = None,
        claimed_until: datetime | None = None,
    ) -> int | None:
        """Insert a row; returns its id, or None if the key already existed (a retried update)."""
        values = {
            "person_id": person_id,
            "key": key,
            "kind": kind,
            "due_at": due_at,
            "payload": payload,
            "late_after_s": late_after_s,
            "status": Status.CLAIMED if claimed_until else Status.PENDING,
            "lease_until": claimed_until,
            "claimed_by": self.session.info.get(CLAIMER) if claimed_until else None,
            "attempts": 1 if claimed_until else 0,
        }
        return await self._insert(values)

    async def mark_once(self, person_id: int, key: str, kind: str, now: datetime) -> bool:
        """Record that a message with ``key`` was sent directly (no row of its own was due); False
        if it was recorded before: such a message goes once."""
        values = {
            "person_id": person_id,
            "key": key,
            "kind": kind,
            "due_at": now,
            "payload": {},
            "status": Status.SENT,
            "sent_at": now,
        }
        return await self._insert(values) is not None

    async def _insert(self, values: dict[str, Any]) -> int | None:
        """Insert one row unless the person already has one with its key: its id, or None."""
        stmt = _insert_ignoring_conflicts(self.session, ScheduledMessage.__table__, [values])
        result = await self.session.execute(stmt.returning(ScheduledMessage.id))
        return result.scalar_one_or_none()

    async def pending_count(self, person_id: int, kind: str) -> int:
        """How many rows of ``kind`` are planned for the person (pending)."""
        query = select(func.count()).where(
            ScheduledMessage.person_id == person_id,
            ScheduledMessage.kind == kind,
            ScheduledMessage.status == Status.PENDING,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def cancel_prefix(self, person_id: int, prefix: str) -> int:
        result = await self.session.execute(
            update(ScheduledMessage)
            .where(
                ScheduledMessage.person_id == person_id,
                ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED]),
                ScheduledMessage.key.startswith(prefix, autoescape=True),
            )
            .values(status=Status.CANCELLED)
        )
        return int(getattr(result, "rowcount", 0))

    async def cancel_all(self, person_id: int) -> None:
        await self.session.execute(
            update(ScheduledMessage)
            .where(
                ScheduledMessage.person_id == person_id,
                ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED]),
            )
            .values(status=Status.CANCELLED)
        )

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, taken_over: set[int] | None = None
    ) -> list[ScheduledMessage]:
        """Claim up to ``limit`` due rows (pending, or claimed with an expired lease); the ids of the
        claims taken over from another process go into ``taken_over``.

        On PostgreSQL the claims of processes that are gone are taken over first, whatever their
        lease: a claim's key whose advisory lock is free belongs to no living process
        (:meth:`bot.storage.db.Database.hold_claimer_lock`)."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                update(ScheduledMessage)
                .where(
                    ScheduledMessage.status == Status.CLAIMED,
                    ScheduledMessage.lease_until >= now,
                    ScheduledMessage.claimed_by.is_not(None),
                    func.pg_try_advisory_xact_lock(CLAIMER_LOCK_CLASS, ScheduledMessage.claimed_by),
                )
                .values(lease_until=now - DEAD_CLAIM)
            )
        due = or_(
            and_(ScheduledMessage.status == Status.PENDING, ScheduledMessage.due_at <= now),
            and_(ScheduledMessage.status == Status.CLAIMED, ScheduledMessage.lease_until < now),
        )
        ids_query = (
            select(ScheduledMessage.id, ScheduledMessage.status)
            .where(due)
            .order_by(ScheduledMessage.due_at, ScheduledMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        found = (await self.session.execute(ids_query)).all()
        ids = [row_id for row_id, _ in found]
        if taken_over is not None:
            taken_over.update(row_id for row_id, status in found if status == Status.CLAIMED)
        if not ids:
            return []
        await self.session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.id.in_(ids), due)
            .values(
                status=Status.CLAIMED,
                lease_until=now + lease,
                claimed_by=self.session.info.get(CLAIMER),
                attempts=ScheduledMessage.attempts + 1,
            )
        )
        rows = (
            await self.session.execute(
                select(ScheduledMessage)
                .where(ScheduledMessage.id.in_(ids), ScheduledMessage.status == Status.CLAIMED)
                # in the order they were meant to go out: a retried message before later ones
                .order_by(
                    func.coalesce(ScheduledMessage.first_due_at, ScheduledMessage.due_at),
                    ScheduledMessage.due_at,
                    ScheduledMessage.id,
                )
                .execution_options(populate_existing=True)
            )
        ).scalars()
        return list(rows)

    @staticmethod
    def _owned(row_id: int, attempt: int | None) -> Any:
        """The row is still claimed, and (if ``attempt`` is given) by the claim that sent it."""
        clause = and_(ScheduledMessage.id == row_id, ScheduledMessage.status == Status.CLAIMED)
        return clause if attempt is None else and_(clause, ScheduledMessage.attempts == attempt)

    async def settle(
        self,
        row_id: int,
        status: Status,
        now: datetime,
        error: str | None = None,
        *,
        attempt: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": error}
        if status == Status.SENT:
            values["sent_at"] = now
        await self.session.execute(
            update(ScheduledMessage).where(self._owned(row_id, attempt)).values(**values)
        )

    async def release_claims(self, now: datetime) -> int:
        """Every claim's lease ends now (the process that held them is gone): claimable at once."""
        result = await self.session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.status == Status.CLAIMED, ScheduledMessage.lease_until >= now)
            .values(lease_until=now - timedelta(microseconds=1))
        )
        return int(getattr(result, "rowcount", 0))

    async def renew(self, row_id: int, lease_until: datetime, *, attempt: int) -> bool:
        """Extend a claim's lease; False if the claim is no longer ours (another process re-claimed
        the row after the lease ran out, or it was cancelled)."""
        result = await self.session.execute(
            update(ScheduledMessage).where(self._owned(row_id, attempt)).values(lease_until=lease_until)
        )
        return bool(getattr(result, "rowcount", 0))

    async def retry_later(
        self,
        row_id: int,
        due_at: datetime,
        error: str,
        *,
        attempt: int | None = None,
        keep_first_due: bool = False,
    ) -> None:
        """Back to pending, due at ``due_at``. ``keep_first_due``: a send is being retried, so
        remember when the message was first due; otherwise (a move out of quiet hours) it is a new
        plan, and the row no longer counts as one being retried."""
        values: dict[str, Any] = {
            "status": Status.PENDING,
            "due_at": due_at,
            "lease_until": None,
            "last_error": error,
        }
        if keep_first_due:  # SET sees the row's old values: the first retry keeps the old due_at
            values["first_due_at"] = func.coalesce(ScheduledMessage.first_due_at, ScheduledMessage.due_at)
        else:
            values["first_due_at"] = None
        await self.session.execute(
            update(ScheduledMessage).where(self._owned(row_id, attempt)).values(**values)
        )

    async def retried_first_due(self, person_ids: list[int]) -> dict[int, Waiting]:
        """Per person, their messages waiting to be sent again (a failed send, or one moved behind
        its chat's pacing): the earliest of them in sending order, and the latest next try. Later
        messages of theirs wait behind all of them."""
        if not person_ids:
            return {}
        rows = await self.session.execute(
            select(
                ScheduledMessage.person_id,
                ScheduledMessage.first_due_at,
                ScheduledMessage.id,
                ScheduledMessage.due_at,
                ScheduledMessage.last_error,
            )
            .where(
                ScheduledMessage.person_id.in_(person_ids),
                ScheduledMessage.status == Status.PENDING,
                ScheduledMessage.first_due_at.is_not(None),
            )
            .order_by(ScheduledMessage.first_due_at, ScheduledMessage.id)
        )
        out: dict[int, Waiting] = {}
        for person_id, first_due, row_id, due, error in rows.all():
            earliest = out.get(int(person_id))
            paced = error == PACED
            if earliest is None:
                out[int(person_id)] = Waiting(first_due or due, int(row_id), due, paced)
            else:
                out[int(person_id)] = earliest._replace(
                    last_due=max(due, earliest.last_due), paced=earliest.paced and paced
                )
        return out

    async def in_flight(self, person_ids: list[int], now: datetime, mine: list[int]) -> dict[int, Waiting]:
        """Per person, their earliest message claimed by a live claim other than ``mine`` (a reply
        another process or update is sending right now, say one waiting for its chat's pacing):
        their later messages must not overtake it."""
        if not person_ids:
            return {}
        first = func.coalesce(ScheduledMessage.first_due_at, ScheduledMessage.due_at)
        rows = await self.session.execute(
            select(ScheduledMessage.person_id, first, ScheduledMessage.id, ScheduledMessage.lease_until)
            .where(
                ScheduledMessage.person_id.in_(person_ids),
                ScheduledMessage.status == Status.CLAIMED,
                ScheduledMessage.lease_until >= now,
                ScheduledMessage.id.not_in(mine),
            )
            .order_by(first, ScheduledMessage.id)
        )
        out: dict[int, Waiting] = {}
        for person_id, first_due, row_id, lease_until in rows.all():
            out.setdefault(
                int(person_id), Waiting(first_due, int(row_id), lease_until or first_due, paced=True)
            )
        return out

    async def latest_sent(self, person_ids: list[int], kind: str) -> dict[int, int]:
        """Per person, the id of their newest row of ``kind`` that was sent (ids grow with time)."""
        if not person_ids:
            return {}
        rows = await self.session.execute(
            select(ScheduledMessage.person_id, func.max(ScheduledMessage.id))
            .where(
                ScheduledMessage.person_id.in_(person_ids),
                ScheduledMessage.kind == kind,
                ScheduledMessage.status == Status.SENT,
            )
            .group_by(ScheduledMessage.person_id)
        )
        return {int(person_id): int(row_id) for person_id, row_id in rows.all()}

    async def paced_until(self, person_id: int) -> datetime | None:
        """When the last of the person's messages moved behind their chat's pacing is due (pending,
        or claimed and about to go), or None: a new reply goes after it."""
        query = select(func.max(ScheduledMessage.due_at)).where(
            ScheduledMessage.person_id == person_id,
            ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED]),
            ScheduledMessage.last_error == PACED,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def first_pending(self, person_id: int, prefix: str) -> ScheduledMessage | None:
        """This person's earliest pending row whose key starts with ``prefix``."""
        query = (
            select(ScheduledMessage)
            .where(
                ScheduledMessage.person_id == person_id,
                ScheduledMessage.status == Status.PENDING,
                ScheduledMessage.key.startswith(prefix, autoescape=True),
            )
            .order_by(ScheduledMessage.due_at, ScheduledMessage.id)
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def set_payload(self, row_id: int, payload: dict[str, Any]) -> None:
        """New wording for a row not sent yet (a late or moved follow-up)."""
        await self.session.execute(
            update(ScheduledMessage)
            .where(
                ScheduledMessage.id == row_id, ScheduledMessage.status.in_([Status.PENDING, Status.CLAIMED])
            )
            .values(payload=payload)
        )

    async def next_due(self) -> datetime | None:
        pending = select(func.min(ScheduledMessage.due_at)).where(ScheduledMessage.status == Status.PENDING)
        leased = select(func.min(ScheduledMessage.lease_until)).where(
            ScheduledMessage.status == Status.CLAIMED
        )
        first = (await self.session.execute(pending)).scalar_one_or_none()
        lease = (await self.session.execute(leased)).scalar_one_or_none()
        times = [t for t in (first, lease) if t is not None]
        return min(times) if times else None

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(ScheduledMessage.status, func.count()).group_by(ScheduledMessage.status)
        )
        return {status: int(n) for status, n in rows.all()}

    async def delete_for(self, person_id: int) -> None:
        await self.session.execute(delete(ScheduledMessage).where(ScheduledMessage.person_id == person_id))


class MediaFiles:
    """Telegram file ids by cache key (see :class:`bot.attachments.Rendered`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, cache_key: str) -> str | None:
        row = await self.session.get(MediaFile, cache_key)
        return row.file_id if row else None

    async def put(self, cache_key: str, file_id: str) -> None:
        stmt = _insert_ignoring_conflicts(
            self.session, MediaFile.__table__, [{"cache_key": cache_key, "file_id": file_id}]
        )
        await self.session.execute(stmt)


class GroupChats:
    """Groups and channels the bot was told about; each gets one 'private chats only' note."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, chat_id: str) -> bool:
        """Remember ``chat_id``; False if it was seen before (the note was already sent)."""
        stmt = _insert_ignoring_conflicts(self.session, GroupChat.__table__, [{"chat_id": chat_id}])
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))
