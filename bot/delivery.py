"""Sending rows of scheduled_messages: the transport interface, the deliverer and the dispatcher.

The table is the truth. The dispatcher claims due rows in a transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
sends them, and marks each one sent. APScheduler only wakes it: at the earliest
due time and on a safety interval. Delivery is at-least-once: a row is sent
twice only if the process dies after Telegram accepted it and before "sent"
was committed (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.attachments import Attachments, Rendered
from bot.domain.content import Content
from bot.domain.effects import Kind, Message, message_from_payload
from bot.domain.followups import (
    DROP,
    MOVE,
    LateVerdict,
    check_prefix_of,
    fold_into_check,
    late_followup,
)
from bot.plan_delivery import PLAN_KINDS, plan_row_now
from bot.service import REPLY_LEASE, Outgoing, to_datetime
from bot.storage.db import Database
from bot.storage.leader import Leader, SoleLeader
from bot.storage.models import Person, ScheduledMessage, Status
from bot.storage.plans import Plans
from bot.storage.repositories import PACED, People
from bot.storage.repositories import Schedule as ScheduleRepo

log = logging.getLogger(__name__)

# a send that fails for a passing reason (Telegram unreachable, 5xx, 429) is tried again with
# capped backoff for this long after the message was first due, then marked failed: a follow-up
# is still worth sending (reworded when late) for a day; a reply or a hold's message only for
# minutes (hold prompts are dropped as late much sooner), so one stuck message cannot hold a
# person's later ones back for long
RETRY_FOR = timedelta(minutes=15)
RETRY_FOLLOWUPS_FOR = timedelta(hours=24)
AFTER_EARLIER = timedelta(milliseconds=1)  # a held-back message is due just after the one it waits for
# a picture that fails on this many tries (the first and one retry, about a second later) is
# dropped and its message sent as words alone
PICTURE_TRIES = 2
# a due message of a person whose earlier one is being sent elsewhere looks again this much later
IN_FLIGHT_RECHECK = timedelta(milliseconds=250)
# why a reply was dropped unsent: the person had already been sent the answer to a later message
SUPERSEDED = "superseded by a later reply"
FOLLOWUP_KINDS = frozenset({Kind.HYDRATION, Kind.CHECKIN})
DISPATCH_BATCH = 50
# a dispatched row's lease is this many reply leases: it may wait for the send limiter (bot.runtime)
DISPATCH_LEASE_FACTOR = 2
DISPATCH_LEASE = DISPATCH_LEASE_FACTOR * REPLY_LEASE


class Transport(Protocol):
    """Where messages go: Telegram, or the terminal."""

    async def send(self, chat_id: str, message: Message, attachment: Rendered | None = None) -> None: ...


@runtime_checkable
class Paced(Protocol):
    """A transport that paces each chat (Telegram: about one message a second after a burst)."""

    def paced_for(self, chat_id: str) -> float:
        """Seconds until a send to ``chat_id`` would not wait for that chat's pacing (0: now)."""
        ...

    def pace(self, chat_id: str) -> float:
        """Seconds between two sends to ``chat_id`` once its burst is used up."""
        ...


class Blocked(Exception):
    """The person blocked the bot (Telegram 403): stop writing to them."""


class TemporaryFailure(Exception):
    """Try again later (network, 5xx, 429); ``retry_after`` in seconds if the server said."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The message can never be sent as it is (for example a 400 Bad Request)."""


def backoff(attempts: int) -> float:
    """Capped exponential backoff in seconds: 1, 2, 4, ... up to 5 minutes."""
    return float(min(300, 2 ** max(0, attempts - 1)))


@dataclass
class _Batch:
    """What one :meth:`Deliverer.deliver` call learnt about each person so far."""

    dispatched: bool
    defer_paced: bool
    blocked: set[int] = field(default_factory=set)
    held: dict[int, datetime] = field(default_factory=dict)  # person -> due time of a message that goes first
    paced: dict[int, float] = field(default_factory=dict)  # person -> their chat's pacing interval


class Deliverer:
    """Sends claimed rows in order and records each outcome."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        attachments: Attachments | None = None,
        lease: timedelta = REPLY_LEASE,
    ) -> None:
        self.db = db
        self.transport = transport
        self.clock = clock
        self.lease = lease  # a claim with less than half of this left is renewed before sending
        self.attachments = attachments or Attachments()
        self.on_retry: Callable[[datetime], None] | None = None  # the waker, set by the runtime
        self.pacing = transport if isinstance(transport, Paced) else None

    async def deliver(
        self, rows: list[Outgoing], *, dispatched: bool = False, defer_paced: bool = False
    ) -> None:
        """Send ``rows`` in order; a failure of one row never stops the others.

        ``dispatched`` (the dispatcher's batches, claimed a while ago): each row's claim is checked
        just before it is sent, so a row cancelled or erased meanwhile (/cancel, /delete) is not
        sent. With ``dispatched`` or ``defer_paced`` (replies when updates are handled one at a
        time: polling), a row whose chat would have to wait for its own pacing is not waited for:
        it and that person's later rows go back to pending, one pacing interval apart, for the
        dispatcher, and the other chats' rows (and updates) go on, so one busy chat never holds up
        anybody else's messages. Replies of a person who has rows waiting for that go after them.
        """
        batch = _Batch(dispatched=dispatched, defer_paced=dispatched or defer_paced)
        if defer_paced and not dispatched and self.pacing is not None:
            await self._behind_paced(rows, batch)
        for row in rows:
            try:
                await self._deliver_one(row, batch)
            except Exception as exc:  # the database failed (say): the row stays claimed and is sent
                # again when its lease runs out; the rest of the replies and of the batch go on
                metrics.ERRORS.labels(where="delivery").inc()
                log.warning("could not deliver a message kind=%s error=%s", row.kind, type(exc).__name__)

    async def _deliver_one(self, row: Outgoing, batch: _Batch) -> None:
        person = row.person_id
        if person in batch.blocked:
            return
        if person in batch.held:
            step = batch.paced.get(person)
            if step is None:
                await self._hold_back(row, batch.held[person])
            else:  # one pacing interval after the one before: each comes due when it can go
                batch.held[person] += timedelta(seconds=step)
                await self._hold_back(row, batch.held[person], PACED, after=timedelta(0))
            return
        wait = self.pacing.paced_for(row.chat_id) if batch.defer_paced and self.pacing is not None else 0.0
        if wait > 0:
            due = to_datetime(self.clock()) + timedelta(seconds=wait)
            await self._hold_back(row, due, PACED, after=timedelta(0))
            metrics.SCHEDULED.labels(event="paced").inc()
            batch.held[person], batch.paced[person] = due, wait
            if self.on_retry is not None:
                self.on_retry(due)
            return
        if not await self._still_ours(row, always=batch.dispatched):
            # cancelled or erased meanwhile, or the lease ran out before this process got to it (an
            # overloaded process) and another one claimed the row: sending here too would double it
            log.info("claim no longer ours before sending; not sent here kind=%s", row.kind)
            metrics.record_outcome("claim_lost", retried=False)
            return
        outcome, error, retry_after = await self._send(row)
        if outcome == "blocked":
            batch.blocked.add(person)
        retry_at = await self._settle(row, outcome, error, retry_after)
        if retry_at is not None:
            batch.held[person] = retry_at
            if self.on_retry is not None:
                self.on_retry(retry_at)

    async def _behind_paced(self, rows: list[Outgoing], batch: _Batch) -> None:
        """Replies of people whose earlier messages wait for their chat's pacing go after those."""
        assert self.pacing is not None
        for person, chat in {row.person_id: row.chat_id for row in rows}.items():

            async def work(session: AsyncSession, person: int = person) -> datetime | None:
                return await ScheduleRepo(session).paced_until(person)

            until: datetime | None = await self.db.run(work)
            if until is not None:
                batch.held[person] = until
                batch.paced[person] = self.pacing.paced_for(chat) or self.pacing.pace(chat)

    async def _still_ours(self, row: Outgoing, *, always: bool = False) -> bool:
        """True if this process still holds the row's claim, renewing the lease when it is old.

        A fresh claim of a reply (the usual case: replies go out milliseconds after their commit)
        costs nothing unless ``always``; otherwise the claim is checked and extended in one
        conditional UPDATE, which fails if the row was cancelled or erased, or another process has
        re-claimed it meanwhile.
        """
        if row.claimed_until is None:
            return True
        lease = row.lease or self.lease
        now = to_datetime(self.clock())
        if row.claimed_until - now >= lease / 2 and not always:
            return True
        lease_until = max(now + lease, row.claimed_until)

        async def work(session: AsyncSession) -> bool:
            return await ScheduleRepo(session).renew(row.row_id, lease_until, attempt=row.attempt)

        renewed: bool = await self.db.run(work)
        return renewed

    async def _hold_back(
        self,
        row: Outgoing,
        due: datetime,
        reason: str = "after an earlier message",
        after: timedelta = AFTER_EARLIER,  # just after it, whatever the two rows' ids
    ) -> None:
        """Keep one person's messages in order: back to pending at ``due`` (+ ``after``), keeping
        when it was first due, so the person's later messages wait behind it."""

        async def work(session: AsyncSession) -> None:
            await ScheduleRepo(session).retry_later(
                row.row_id, due + after, reason, attempt=row.attempt, keep_first_due=True
            )

        await self.db.run(work)

    async def _render(self, row: Outgoing) -> Rendered | None:
        spec = row.message.attachment
        if spec is None:
            return None
        try:
            return await self.attachments.render(row.person_id, spec)
        except Exception as exc:  # the words still go out; the picture is a help, not the message
            log.warning("could not render attachment %s: %s", spec.split(":", 1)[0], type(exc).__name__)
            return None

    async def _send(self, row: Outgoing) -> tuple[str, str | None, float | None]:
        rendered = await self._render(row)
        outcome = await self._try_send(row, rendered)
        if rendered is not None and rendered.kind == "photo" and self._picture_gives_way(row, outcome):
            # the picture helps, the words are the message: they go alone rather than hold up
            # this person's next messages behind the picture's retries
            metrics.ERRORS.labels(where="picture").inc()
            log.warning("a picture could not be sent (%s); its words go alone kind=%s", outcome[1], row.kind)
            outcome = await self._try_send(row, None)
        return outcome

    @staticmethod
    def _picture_gives_way(row: Outgoing, outcome: tuple[str, str | None, float | None]) -> bool:
        """A picture that Telegram refuses, or that failed again on its retry (not a 429: that is
        the whole bot's pace, not the picture's fault)."""
        result, _, retry_after = outcome
        return result == "failed" or (
            result == "retry" and retry_after is None and row.attempt >= PICTURE_TRIES
        )

    async def _try_send(
        self, row: Outgoing, rendered: Rendered | None
    ) -> tuple[str, str | None, float | None]:
        message = row.message
        if message.about_attachment:  # the words about the picture go with the picture only
            words = f"{message.text}\n\n{message.about_attachment}" if rendered is not None else message.text
            message = replace(message, text=words, about_attachment="")
        try:
            await self.transport.send(row.chat_id, message, rendered)
        except Blocked as exc:
            return "blocked", str(exc)[:200], None
        except TemporaryFailure as exc:
            return "retry", str(exc)[:200], exc.retry_after
        except PermanentFailure as exc:
            return "failed", str(exc)[:200], None
        except Exception as exc:  # not a Telegram error (a bug, a broken proxy): tried again later
            log.warning(
                "send failed unexpectedly kind=%s error=%s; trying again later", row.kind, type(exc).__name__
            )
            return "retry", f"unexpected {type(exc).__name__}", None
        return "sent", None, None

    async def _settle(
        self, row: Outgoing, outcome: str, error: str | None, retry_after: float | None
    ) -> datetime | None:
        """Record the outcome; returns the new due time if the row will be retried."""
        now = to_datetime(self.clock())

        async def work(session: AsyncSession) -> datetime | None:
            schedule = ScheduleRepo(session)
            if outcome == "sent":
                await schedule.settle(row.row_id, Status.SENT, now, attempt=row.attempt)
            elif outcome == "blocked":
                await schedule.settle(row.row_id, Status.FAILED, now, error, attempt=row.attempt)
                await People(session).set_inactive(row.person_id)
                await schedule.cancel_all(row.person_id)
                await Plans(session).pause(row.person_id)
                log.info(
                    "person blocked the bot; follow-ups cancelled, plan paused",
                    extra={"person": row.person_id},
                )
            elif outcome == "retry":
                window = RETRY_FOLLOWUPS_FOR if row.kind in FOLLOWUP_KINDS else RETRY_FOR
                if now - (row.first_due or now) >= window:
                    await schedule.settle(row.row_id, Status.FAILED, now, error, attempt=row.attempt)
                else:
                    due = now + timedelta(seconds=max(retry_after or 0.0, backoff(row.attempt)))
                    await schedule.retry_later(
                        row.row_id, due, error or "", attempt=row.attempt, keep_first_due=True
                    )
                    return due
            else:
                await schedule.settle(row.row_id, Status.FAILED, now, error, attempt=row.attempt)
            return None

        result: datetime | None = await self.db.run(work)
        metrics.record_outcome(outcome, retried=result is not None)
        return result

    async def send_direct(self, rows: list[Outgoing]) -> None:
        """Send messages that have no row (the farewell after /delete): once, best effort."""
        for row in rows:
            try:
                await self.transport.send(row.chat_id, row.message)
            except Exception as exc:
                log.warning("could not send a direct message kind=%s: %s", row.kind, type(exc).__name__)


class Dispatcher:
    """Claims due rows and hands them to the deliverer; drops prompts that became pointless.

    A follow-up that comes due late is sent, reworded, moved out of quiet hours or
    dropped as the core decides (:func:`bot.domain.followups.late_followup`);
    ``time_scale`` (KNOTBOT_TIME_SCALE) scales its lateness thresholds like every wait.
    """

    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        content: Content,
        *,
        clock: Callable[[], float] = time.time,
        batch: int = DISPATCH_BATCH,
        lease: timedelta = DISPATCH_LEASE,
        time_scale: float = 1.0,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.content = content
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.time_scale = time_scale
        self._lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Dispatch everything due now, batch by batch; returns how many rows were handled."""
        total = 0
        async with self._lock:
            while True:
                rows, dropped_for = await self._claim()
                if not rows and not dropped_for:
                    return total
                total += len(rows) + len(dropped_for)
                notes = [
                    Outgoing(
                        row_id=-1, person_id=p, chat_id=chat, kind=Kind.NOTE, message=self._dropped_note()
                    )
                    for p, chat in dropped_for.items()
                ]
                for note in notes:  # the note comes before what is still worth sending
                    await self._send_note(note)
                await self.deliverer.deliver(rows, dispatched=True)

    async def reclaim_after_restart(self) -> int:
        """On SQLite one process serves: claims left at start-up belong to a process that died
        (kill -9, a crash), so they are taken over now instead of after their lease, and what is
        still worth sending goes out within seconds of the restart (late prompts are dropped as
        always). Returns how many claims were released."""
        now = to_datetime(self.clock())

        async def work(session: AsyncSession) -> int:
            return await ScheduleRepo(session).release_claims(now)

        released: int = await self.db.run(work)
        if released:
            log.info("took over %d messages claimed before a restart", released)
        return released

    def _dropped_note(self) -> Message:
        return Message(self.content.text("hold.dropped"))

    async def _send_note(self, note: Outgoing) -> None:
        try:
            await self.deliverer.transport.send(note.chat_id, note.message)
        except Exception as exc:  # a courtesy note: never worth failing the batch for
            log.warning("could not send the dropped-prompts note: %s", type(exc).__name__)

    async def _claim(self) -> tuple[list[Outgoing], dict[int, str]]:
        now_epoch = self.clock()
        now = to_datetime(now_epoch)

        lags: list[float] = []  # for the metrics, counted once the claim committed
        dropped: list[int] = []

        async def work(session: AsyncSession) -> tuple[list[Outgoing], dict[int, str]]:
            lags.clear()
            dropped.clear()
            schedule = ScheduleRepo(session)
            people = People(session)
            taken_over: set[int] = set()  # claims of a process that died or stalled
            claimed = await schedule.claim_due(now, self.batch, self.lease, taken_over)
            # people with a message waiting to be tried again: their later ones go after it
            persons = sorted({row.person_id for row in claimed})
            retrying = await schedule.retried_first_due(persons)
            # ... and those with an earlier message being sent elsewhere (a reply on another replica
            # waiting for its chat's pacing): theirs goes a moment later, never before it
            sending = await schedule.in_flight(persons, now, [row.id for row in claimed])
            # ... and whether the conversation has already moved past a reply taken over from a
            # process that died: a later one was sent (a reply retried after a failure is not
            # superseded: it is late, and its person's later messages wait behind it)
            answered = await schedule.latest_sent(
                sorted({row.person_id for row in claimed if row.kind == Kind.REPLY and row.id in taken_over}),
                Kind.REPLY,
            )
            out: list[Outgoing] = []
            dropped_for: dict[int, str] = {}
            for row in claimed:
                person = await people.get(row.person_id)
                if person is None or not person.active:
                    await schedule.settle(row.id, Status.FAILED, now, "person inactive")
                    continue
                first_due = row.first_due_at or row.due_at  # a retried row is as late as its plan
                # ... but waiting for its own chat's pacing does not count (it would have waited
                # for it just the same if the dispatcher had not sent other chats' rows meanwhile)
                planned = row.due_at if row.last_error == PACED else first_due
                late = (now - planned).total_seconds()
                lags.append(late)
                superseded = answered.get(row.person_id, 0) > row.id
                if row.id in taken_over and row.kind == Kind.REPLY and superseded:
                    # out of context now: the person has seen the answer to a later message
                    await schedule.settle(row.id, Status.DROPPED, now, SUPERSEDED)
                    dropped.append(row.id)
                    continue
                message = message_from_payload(row.payload)
                if row.kind in FOLLOWUP_KINDS:
                    worded, was_dropped = await self._followup_now(
                        schedule, row, person, message, now, planned
                    )
                    if was_dropped:
                        dropped.append(row.id)
                    if worded is None:  # moved, cancelled or dropped
                        continue
                    message = worded
                elif row.kind in PLAN_KINDS:
                    reminder = await plan_row_now(
                        session, row, person, now, self.content, time_scale=self.time_scale
                    )
                    if reminder is None:  # a session or a reminder that day already, or no plan
                        continue
                    message = reminder
                elif row.late_after_s is not None and late > row.late_after_s:
                    await schedule.settle(row.id, Status.DROPPED, now, f"late by {late:.1f}s")
                    dropped.append(row.id)
                    # one "offline" note per hold, whichever dispatch run or replica drops its prompts
                    hold = row.key.rsplit(":", 1)[0]
                    if row.kind == Kind.HOLD_PROMPT and await schedule.mark_once(
                        person.id, f"{hold}:offline", Kind.NOTE, now
                    ):
                        dropped_for[person.id] = person.chat_id
                    continue
                earlier = retrying.get(row.person_id)
                if earlier is not None and earlier.before(first_due, row.id):
                    # an earlier message of theirs failed or waits for its chat's pacing: this one
                    # goes just after all of those (never due now, so this dispatch run does not
                    # claim it again)
                    after = max(earlier.last_due, now) + AFTER_EARLIER
                    reason = PACED if earlier.paced else "after an earlier message"
                    await schedule.retry_later(
                        row.id, after, reason, attempt=row.attempts, keep_first_due=True
                    )
                    continue
                ahead = sending.get(row.person_id)
                if ahead is not None and ahead.before(first_due, row.id):
                    await schedule.retry_later(
                        row.id, now + IN_FLIGHT_RECHECK, PACED, attempt=row.attempts, keep_first_due=True
                    )
                    continue
                out.append(
                    Outgoing(
                        row_id=row.id,
                        person_id=row.person_id,
                        chat_id=person.chat_id,
                        kind=row.kind,
                        message=message,
                        attempt=row.attempts,
                        claimed_until=row.lease_until,
                        lease=self.lease,
                        first_due=first_due,
                    )
                )
            return out, dropped_for

        result: tuple[list[Outgoing], dict[int, str]] = await self.db.run(work)
        metrics.record_claims(lags, dropped=len(dropped), due=len(result[0]))
        return result

    async def _followup_now(
        self,
        schedule: ScheduleRepo,
        row: ScheduledMessage,
        person: Person,
        message: Message,
        now: datetime,
        planned: datetime,
    ) -> tuple[Message | None, bool]:
        """A claimed follow-up: the message to send now (reworded if late), or None if it was
        cancelled (follow-ups off), moved out of quiet hours (pending again) or dropped; and
        whether it was dropped."""
        if not person.followups:
            await schedule.settle(row.id, Status.CANCELLED, now, "follow-ups turned off")
            return None, False
        verdict = late_followup(
            row.kind,
            message.text,
            planned,  # a retried follow-up is as late as its plan
            now,
            person.profile(),
            self.content,
            time_scale=self.time_scale,
        )
        if verdict.action == MOVE and row.kind == Kind.HYDRATION:
            verdict = await self._fold_into_check(schedule, row, verdict)
        if verdict.action == DROP:
            await schedule.settle(row.id, Status.DROPPED, now, verdict.reason)
            return None, True
        if verdict.text is not None:  # stored, so a retry or the moved row keeps the wording
            message = replace(message, text=verdict.text)
            await schedule.set_payload(row.id, {**row.payload, "text": verdict.text})
        if verdict.action == MOVE and verdict.due is not None:
            await schedule.retry_later(row.id, verdict.due, verdict.reason or "", attempt=row.attempts)
            return None, False
        return message, False

    async def _fold_into_check(
        self, schedule: ScheduleRepo, row: ScheduledMessage, verdict: LateVerdict
    ) -> LateVerdict:
        """A hydration reminder moved to or past its session's next check goes with that check."""
        prefix = check_prefix_of(row.key)
        check = await schedule.first_pending(row.person_id, prefix) if prefix else None
        if check is None:
            return verdict
        verdict, check_text = fold_into_check(verdict, check.due_at, str(check.payload["text"]), self.content)
        if check_text is not None:
            await schedule.set_payload(check.id, {**check.payload, "text": check_text})
        return verdict

    async def next_due(self) -> datetime | None:
        async def work(session: AsyncSession) -> datetime | None:
            return await ScheduleRepo(session).next_due()

        result: datetime | None = await self.db.run(work)
        return result


class Waker:
    """Wakes the dispatcher through APScheduler: at the earliest due time and on a safety poll.

    Only the leader (see :mod:`bot.storage.leader`) dispatches; a follower passes
    due times on to it and tries to become leader on each safety poll.
    """

    JOB_WAKE = "knotbot-dispatch-wake"
    JOB_POLL = "knotbot-dispatch-poll"

    def __init__(
        self, scheduler: Any, dispatcher: Dispatcher, *, poll_seconds: float, leader: Leader | None = None
    ) -> None:
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.poll_seconds = poll_seconds
        self.leader: Leader = leader or SoleLeader()
        self.leader.on_wake(self.wake_at)
        self._wake_at: datetime | None = None
        self._running: set[asyncio.Task[object]] = set()
        self._again = False
        self._stopped = False

    def start(self) -> None:
        self.scheduler.add_job(
            self.poll,
            "interval",
            seconds=self.poll_seconds,
            id=self.JOB_POLL,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self._schedule(to_datetime(time.time()))

    def wake_at(self, when: datetime | None) -> None:
        """Make sure the dispatcher runs no later than ``when`` (here if leading, else at the leader)."""
        if when is None or self._stopped:
            return
        if not self.leader.held:
            self.leader.announce(when)
            return
        self._schedule(when)

    def _schedule(self, when: datetime) -> None:
        if self._wake_at is not None and self._wake_at <= when and self._wake_at > to_datetime(time.time()):
            return
        self._wake_at = when
        self.scheduler.add_job(
            self.poll,
            "date",
            run_date=max(when, to_datetime(time.time())),
            id=self.JOB_WAKE,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def poll(self) -> None:
        """What both jobs run: start a dispatch in the background unless one is running already.

        A dispatch in progress is asked instead to look once more when it is done (a row may have
        come due after its last claim), and then sets the next wake-up itself. Returning at once
        keeps APScheduler's jobs short, so a long dispatch (a big backlog) never makes it skip
        runs (which it logs as a warning each time).
        """
        if self._stopped:
            return
        if self._running:
            self._again = True  # something may have come due after its last look: look once more
            return
        # a fresh context: the job may have been scheduled from inside an update, whose log
        # context (update id, person) must not label the dispatcher's lines
        task = asyncio.get_running_loop().create_task(self.tick(), context=contextvars.Context())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def tick(self) -> None:
        if self._stopped:
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        self._wake_at = None
        try:
            if not await self.leader.acquire():
                return
            self._again = True
            while self._again and not self._stopped:
                self._again = False
                await self.dispatcher.run_once()
            self.wake_at(await self.dispatcher.next_due())
        except Exception:
            metrics.ERRORS.labels(where="dispatch").inc()
            log.exception("dispatcher run failed; the safety poll will try again")
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self) -> None:
        """Remove the jobs and wait for a dispatch in progress, so the database can be closed."""
        self._stopped = True
        for job_id in (self.JOB_WAKE, self.JOB_POLL):
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(job_id)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        await self.leader.release()
