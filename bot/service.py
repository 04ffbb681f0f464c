"""Apply one event to one person: load state, decide, store state and effects, in one transaction.

Shared by the Telegram adapter and the terminal chat. Replies are written to
the scheduled_messages table as rows already claimed by this process (due
now), in the same transaction as the state change; the caller sends them right
after the commit. If the process dies in between, the dispatcher sends them
when their lease runs out — nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import assert_never

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.domain import DEFAULT_RETENTION_DAYS, plan_chat
from bot.domain.actions import CheckAnswer
from bot.domain.content import Content
from bot.domain.conversation import decide
from bot.domain.decision import CheckStatus, Env
from bot.domain.effects import (
    Cancel,
    DropPlan,
    Effect,
    ForgetPerson,
    Kind,
    Message,
    RecordCheckin,
    RecordFollowups,
    RecordRound,
    Reply,
    SavePlan,
    Schedule,
    SetProfile,
    ShowProgress,
    ShowStreak,
    Toast,
    message_to_payload,
)
from bot.domain.events import Event, Press
from bot.domain.followups import check_of
from bot.domain.matcher import Matcher
from bot.domain.progress import progress_message
from bot.domain.streak import after_session, in_progress, streak_of
from bot.domain.timezones import ZoneMatcher
from bot.geo import timezone_at
from bot.settings import DEFAULT_LEASE_SECONDS
from bot.storage.db import Database as Database  # re-exported: the adapters' handle on the database
from bot.storage.migrations import ensure_current
from bot.storage.models import Person
from bot.storage.plans import Plans
from bot.storage.privacy import forget_person
from bot.storage.repositories import Conversations, GroupChats, MediaFiles, People, Records, Updates
from bot.storage.repositories import Schedule as ScheduleRepo

# KNOTBOT_LEASE_SECONDS' default: longer than the rate limiter's worst wait for one reply
REPLY_LEASE = timedelta(seconds=DEFAULT_LEASE_SECONDS)
MAX_PENDING_PER_KIND = 10  # KNOTBOT_MAX_PENDING_PER_KIND: planned rows per person and kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """A claimed row of scheduled_messages, ready to send."""

    row_id: int
    person_id: int
    chat_id: str
    kind: str  # a Kind (read back from a row it is the plain string, which compares equal)
    message: Message
    attempt: int = 1  # the claim this process holds (scheduled_messages.attempts)
    # when that claim's lease runs out (None: no row, or not leased); past it another process may
    # claim the row, so the deliverer renews an old claim before sending (Deliverer._still_ours)
    claimed_until: datetime | None = None
    lease: timedelta | None = None  # how long that claim was taken for (renewed for as long)
    # when the message was first due (before any retry); None: a reply, due when it was written
    first_due: datetime | None = None


@dataclass
class Handled:
    """What the adapter must do after the transaction committed."""

    replies: list[Outgoing] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    scheduled_first: datetime | None = None
    duplicate: bool = False
    # sent once, best effort, with no row: the farewell after /delete (its row would be erased)
    direct: list[Outgoing] = field(default_factory=list)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ConversationService:
    """The use case 'a person did something'; owns the per-update transaction."""

    def __init__(
        self,
        db: Database,
        content: Content,
        matcher: Matcher,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        zones: ZoneMatcher | None = None,
        locate_tz: Callable[[float, float], str | None] | None = None,
        reply_lease: timedelta = REPLY_LEASE,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_pending_per_kind: int = MAX_PENDING_PER_KIND,
    ) -> None:
        self.db = db
        self.content = content
        self.matcher = matcher
        self.time_scale = time_scale
        self.clock = clock
        self.zones = zones or ZoneMatcher(content.cities)
        self.locate_tz = locate_tz or timezone_at
        self.reply_lease = reply_lease  # after this, another process may send a reply this one claimed
        self.retention_days = retention_days
        self.max_pending_per_kind = max_pending_per_kind

    async def handle(
        self,
        channel: str,
        external_id: str,
        chat_id: str,
        event: Event,
        *,
        update_id: int | None = None,
    ) -> Handled:
        async def work(session: AsyncSession) -> Handled:
            return await self._handle(session, channel, external_id, chat_id, event, update_id)

        result: Handled = await self.db.run(work)
        return result

    async def _handle(
        self,
        session: AsyncSession,
        channel: str,
        external_id: str,
        chat_id: str,
        event: Event,
        update_id: int | None,
    ) -> Handled:
        if update_id is not None and not await Updates(session).first_time(update_id):
            return Handled(duplicate=True)
        people = People(session)
        person = await people.get_or_create(channel, external_id, chat_id)
        await people.lock(person)
        conversations = Conversations(session)
        state = await conversations.load(person.id)
        now = self.clock()
        records = Records(session)
        checks = await self._check_status(records, person.id, event)
        plans = Plans(session)
        env = await self._env(person, event, now, checks, plans)
        decision = decide(state, event, env)
        await conversations.save(person.id, decision.state, to_datetime(now))

        writing = _Writing(
            session=session,
            person=person,
            now=now,
            reply_tag=f"u{update_id}" if update_id is not None else f"r{uuid.uuid4().hex[:12]}",
            records=records,
            plans=plans,
            schedule=ScheduleRepo(session),
        )
        await self._write_effects(writing, decision.effects)
        return self._claimed_replies(writing)

    async def _write_effects(self, writing: _Writing, effects: tuple[Effect, ...]) -> None:
        """Every effect in the core's order, each by its own handler."""
        for index, effect in enumerate(effects):
            match effect:
                case Reply(message=message):
                    await self._write_reply(writing, index, message)
                case ShowProgress():
                    await self._write_reply(writing, index, await self._progress(writing))
                case ShowStreak():
                    await self._write_reply(writing, index, await self._streak_line(writing))
                case Toast(text=toast):
                    writing.handled.toasts.append(toast)
                case Schedule():
                    await self._schedule(writing, effect)
                case Cancel(prefix=prefix):
                    await writing.schedule.cancel_prefix(writing.person.id, prefix)
                case SetProfile(profile=profile):
                    writing.person.set_profile(profile)
                case SavePlan(plan=plan):
                    await writing.plans.save(writing.person.id, plan)
                case DropPlan():
                    await writing.plans.delete(writing.person.id)
                case RecordRound():
                    self._record_round(writing, effect)
                case ForgetPerson(farewell=farewell):
                    await self._forget(writing, farewell)
                    break  # nothing after it is written: its rows would be erased
                case RecordCheckin():
                    await writing.records.add_checkin(
                        writing.person.id, effect.session, effect.area, effect.n, effect.answer
                    )
                case RecordFollowups():
                    writing.records.add_followup_choice(
                        writing.person.id, effect.session, effect.wanted, effect.areas
                    )
                case _:
                    assert_never(effect)

    # -- before the decision: what the core is told about the person

    async def _check_status(self, records: Records, person_id: int, event: Event) -> dict[str, CheckStatus]:
        """A check answer counts only for a check sent to this person: its status, if there is one."""
        if isinstance(event, Press) and isinstance(event.action, CheckAnswer):
            answering = check_of(event.action)
            status = await records.check_status(person_id, answering)
            return {answering.key: status} if status is not None else {}
        return {}

    async def _env(
        self, person: Person, event: Event, now: float, checks: dict[str, CheckStatus], plans: Plans
    ) -> Env:
        recent = await plans.recent_areas(person.id) if plan_chat.wants_history(event) else ()
        return Env(
            content=self.content,
            matcher=self.matcher,
            now=now,
            time_scale=self.time_scale,
            profile=person.profile(),
            zones=self.zones,
            locate_tz=self.locate_tz,
            retention_days=self.retention_days,
            checks=checks,
            plan=await plans.get(person.id),
            recent_areas=recent,
        )

    # -- one small handler per effect (in the update's transaction)

    async def _write_reply(self, writing: _Writing, index: int, message: Message) -> None:
        """A reply: a row already claimed by this process and due now, sent after the commit."""
        row_id = await writing.schedule.add(
            writing.person.id,
            f"{writing.reply_tag}:{index}",
            Kind.REPLY,
            to_datetime(writing.now),
            message_to_payload(message),
            claimed_until=to_datetime(writing.now) + self.reply_lease,
        )
        writing.replies.append((row_id, message))

    async def _progress(self, writing: _Writing) -> Message:
        """The /progress reply: only the service sees the rounds (the words; whether a chart goes along)."""
        ratings = await writing.records.ratings(writing.person.id)
        streak = streak_of(ratings, to_datetime(writing.now), writing.person.profile())
        shown = progress_message(ratings, self.content)
        if ratings:
            shown = replace(shown, text=f"{shown.text}\n\n{in_progress(streak, self.content)}")
        return shown

    async def _streak_line(self, writing: _Writing) -> Message:
        """After a session: the line about the streak, from the rounds."""
        ratings = await writing.records.ratings(writing.person.id)
        streak = streak_of(ratings, to_datetime(writing.now), writing.person.profile())
        return Message(after_session(streak, self.content))

    async def _schedule(self, writing: _Writing, effect: Schedule) -> None:
        """A timed message: a pending row, unless the person has too many of that kind already."""
        person_id = writing.person.id
        if effect.kind not in writing.planned:  # counted on first use
            writing.planned[effect.kind] = await writing.schedule.pending_count(person_id, effect.kind)
        if writing.planned[effect.kind] >= self.max_pending_per_kind:
            # a safety net: the core never plans this many, so someone is forging input
            metrics.SCHEDULED.labels(event="capped").inc()
            log.warning("pending rows capped; not scheduled kind=%s", effect.kind)
            return
        writing.planned[effect.kind] += 1
        due = to_datetime(writing.now + effect.delay)
        await writing.schedule.add(
            person_id,
            effect.key,
            effect.kind,
            due,
            message_to_payload(effect.message),
            late_after_s=effect.late_after,
        )
        handled = writing.handled
        if handled.scheduled_first is None or due < handled.scheduled_first:
            handled.scheduled_first = due

    def _record_round(self, writing: _Writing, effect: RecordRound) -> None:
        writing.records.add_round(
            writing.person.id,
            session=effect.session,
            round=effect.round,
            area=effect.area,
            tool=effect.tool,
            technique=effect.technique,
            hold_seconds=effect.hold_seconds,
            intensity=effect.intensity,
            knot=effect.knot,
        )

    async def _forget(self, writing: _Writing, farewell: Message) -> None:
        """/delete: erase every row about the person, this update's replies too; the farewell goes
        direct (it has no row) and nothing is left to wake up for."""
        person = writing.person
        chat_id = person.chat_id  # read before the person's row is erased
        await forget_person(writing.session, person.id)
        writing.replies.clear()
        writing.handled.direct.append(
            Outgoing(row_id=-1, person_id=person.id, chat_id=chat_id, kind=Kind.FAREWELL, message=farewell)
        )
        writing.handled.scheduled_first = None

    # -- after the effects: what the adapter sends once the transaction has committed

    def _claimed_replies(self, writing: _Writing) -> Handled:
        claimed_until = to_datetime(writing.now) + self.reply_lease
        person = writing.person
        handled = writing.handled
        handled.replies = [
            Outgoing(
                row_id=row_id,
                person_id=person.id,
                chat_id=person.chat_id,
                kind=Kind.REPLY,
                message=message,
                claimed_until=claimed_until,
                lease=self.reply_lease,
            )
            for row_id, message in writing.replies
            if row_id is not None
        ]
        return handled


@dataclass
class _Writing:
    """One update's effects being written: the session, the person, and what is collected for the adapter."""

    session: AsyncSession
    person: Person
    now: float
    reply_tag: str  # replies' row keys: "<tag>:<index of the effect>"
    records: Records
    plans: Plans
    schedule: ScheduleRepo
    handled: Handled = field(default_factory=Handled)
    replies: list[tuple[int | None, Message]] = field(default_factory=list)  # (row id, message), in order
    planned: dict[str, int] = field(default_factory=dict)  # kind -> rows pending for the person


# -- what the adapters need from storage (they never import bot.storage: pyproject.toml, [tool.importlinter])


async def prepare_database(db: Database) -> None:
    """At start-up: the schema must be current; SQLite migrates itself (bot.storage.migrations). On
    PostgreSQL this process then holds its claimer lock: its claims are taken over at once if it dies."""
    await ensure_current(db, migrate=db.is_sqlite)
    await db.hold_claimer_lock()


async def database_answers(db: Database, within: float = 3) -> bool:
    """True if the database answers ``SELECT 1`` within ``within`` seconds (the webhook's /healthz)."""
    try:
        async with asyncio.timeout(within), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def stored_file_id(db: Database, cache_key: str) -> str | None:
    """The Telegram file id of an uploaded picture, if one was stored (the media_files table)."""

    async def work(session: AsyncSession) -> str | None:
        return await MediaFiles(session).get(cache_key)

    file_id: str | None = await db.run(work)
    return file_id


async def store_file_id(db: Database, cache_key: str, file_id: str) -> None:
    async def work(session: AsyncSession) -> None:
        await MediaFiles(session).put(cache_key, file_id)

    await db.run(work)


async def first_time_in_group(db: Database, chat_id: int) -> bool:
    """Remember a group or channel; False if it was seen before (its note was already sent)."""

    async def work(session: AsyncSession) -> bool:
        return await GroupChats(session).first_time(str(chat_id))

    first: bool = await db.run(work)
    return first
