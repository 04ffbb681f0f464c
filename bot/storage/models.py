"""SQLAlchemy tables. What is stored about a person is listed in docs/privacy.md."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.profile import Profile


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite keeps naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Person(Base):
    """Someone who talks to the bot, on one channel (telegram or terminal)."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_people_channel_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))  # Telegram user id / chat id
    chat_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    followups: Mapped[bool] = mapped_column(Boolean, default=False)
    tz: Mapped[str | None] = mapped_column(String(64), default=None)
    reminder_hour: Mapped[int] = mapped_column(Integer, default=10)
    quiet_start: Mapped[int] = mapped_column(Integer, default=21)
    quiet_end: Mapped[int] = mapped_column(Integer, default=8)
    plan_offered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def profile(self) -> Profile:
        return Profile(
            followups=self.followups,
            tz=self.tz,
            hour=self.reminder_hour,
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            plan_offered=self.plan_offered,
        )

    def set_profile(self, profile: Profile) -> None:
        self.followups = profile.followups
        self.tz = profile.tz
        self.reminder_hour = profile.hour
        self.quiet_start = profile.quiet_start
        self.quiet_end = profile.quiet_end
        self.plan_offered = profile.plan_offered


class Conversation(Base):
    """The person's conversation state (bot.domain.state.State as JSON)."""

    __tablename__ = "conversations"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Status(StrEnum):
    """Where a scheduled_messages row stands (the values are what is stored)."""

    PENDING = "pending"  # waiting for its due time
    CLAIMED = "claimed"  # leased by a process that is sending it (lease_until)
    SENT = "sent"
    CANCELLED = "cancelled"  # taken back before it went out (/stop, a new plan, follow-ups off…)
    FAILED = "failed"  # could not be sent (blocked, refused, or retried for too long)
    DROPPED = "dropped"  # too late to be useful, not sent


class ScheduledMessage(Base):
    """Every message the bot sends: replies (due now) and timed ones (due later).

    The single source of truth for delivery. Status: pending → claimed → sent,
    or cancelled / failed / dropped.
    """

    __tablename__ = "scheduled_messages"
    __table_args__ = (
        UniqueConstraint("person_id", "key", name="uq_scheduled_person_key"),
        Index("ix_scheduled_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column()
    # set when a failed send is retried (due_at then moves on): when the message was first due
    first_due_at: Mapped[datetime | None] = mapped_column(default=None)
    late_after_s: Mapped[float | None] = mapped_column(default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    # PostgreSQL: the claiming process's key (Database.claimer); its advisory lock is free once
    # that process is gone, and the claim is taken over at once (Schedule.claim_due)
    claimed_by: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class PracticePlan(Base):
    """A person's practice plan (bot.domain.plan.Plan): areas, local weekdays and time, paused or not.

    Lives as long as the person (``/delete`` erases it); the retention job deletes the
    plan of someone who has not written for the retention period.
    """

    __tablename__ = "plans"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    areas: Mapped[list[str]] = mapped_column(JSON)  # area ids
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # local weekdays, 0 is Monday
    hour: Mapped[int] = mapped_column(Integer)
    minute: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    rev: Mapped[int] = mapped_column(Integer, default=1)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    pause_offered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionRound(Base):
    """One finished round: ids and ratings only, never free text."""

    __tablename__ = "session_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(32))
    tool: Mapped[str] = mapped_column(String(32))
    technique: Mapped[str] = mapped_column(String(32))
    hold_seconds: Mapped[int] = mapped_column(Integer)
    intensity: Mapped[str] = mapped_column(String(16))
    knot: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowupChoice(Base):
    """Whether the person wanted follow-ups after a session, and for which areas."""

    __tablename__ = "followup_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session: Mapped[int] = mapped_column(Integer)
    wanted: Mapped[bool] = mapped_column(Boolean)
    areas: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckinAnswer(Base):
    """An answer to a follow-up check: how the spot felt (better / same / worse / nerve)."""

    __tablename__ = "checkin_answers"
    __table_args__ = (UniqueConstraint("person_id", "session", "area", "n", name="uq_checkin_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update has no double effect."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaFile(Base):
    """Telegram file ids of pictures that never change (uploaded once, then reused)."""

    __tablename__ = "media_files"

    cache_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupChat(Base):
    """A group, supergroup or channel the bot was added to: told once that it works in private chats."""

    __tablename__ = "group_chats"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    noticed_at: Mapped[datetime] = mapped_column(default=utcnow)
