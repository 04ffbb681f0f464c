"""A practice plan: the rules, as pure functions on a fixed clock (no telegram, no sqlalchemy).

A plan is the areas to work on, the local weekdays and a local time. Its reminders
are rows of ``scheduled_messages`` with keys ``plan:r:<rev>:<YYYYMMDD>`` (one per
planned local day and plan revision) and ``plan:s:<YYYYMMDD>:<n>`` (a snooze); only
the next reminder is ever pending, and the dispatcher schedules the one after it
when it handles a reminder (:func:`at_reminder`). Due times come from
:func:`next_due`: the next planned local day at the plan's time, DST-correct
(``timing.local_at``), moved out of quiet hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.profile import Profile
from bot.domain.timing import local_at, next_allowed, zone

KEY_PREFIX = "plan:"
REMINDER_KEY_PREFIX = "plan:r:"
SNOOZE_KEY_PREFIX = "plan:s:"
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)  # Monday is 0, as datetime.weekday()
WEEKDAYS = (0, 1, 2, 3, 4)
TIME = re.compile(r"^(?:at\s+)?(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


class Verdict(StrEnum):
    """What the dispatcher does with a plan reminder that is due."""

    SEND = "send"
    OFFER_PAUSE = "offer_pause"  # several ignored in a row: one gentle offer to pause instead
    SKIP = "skip"  # already had a session that day, or already reminded that day
    DROP = "drop"  # so late (the bot was down) that it is pointless


@dataclass(frozen=True)
class Plan:
    """A person's plan. ``rev`` changes with every change, so old reminders' keys never clash."""

    areas: tuple[str, ...]
    weekdays: tuple[int, ...]
    hour: int
    minute: int
    paused: bool = False
    rev: int = 1
    ignored: int = 0  # reminders in a row that got no answer and no session
    pause_offered: bool = False  # the one gentle offer to pause was made (until the next answer)

    def revised(self) -> Plan:
        """A new revision: settings changed, or paused/resumed; the ignored count starts over."""
        return replace(self, rev=self.rev + 1, ignored=0, pause_offered=False)

    def answered(self) -> Plan:
        """The person reacted to a reminder: nothing is being ignored."""
        return replace(self, ignored=0, pause_offered=False)

    @property
    def clock(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


def parse_time(text: str) -> tuple[int, int] | None:
    """``"19:30"``, ``"7.30"``, ``"19h30"``, ``"7pm"``, ``"19"`` → (hour, minute); None if not a time."""
    match = TIME.match(text.strip())
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_day(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def reminder_key(plan: Plan, day: date) -> str:
    return f"{REMINDER_KEY_PREFIX}{plan.rev}:{day_key(day)}"


def day_of_key(key: str) -> date | None:
    """The planned local day of a plan row's key (reminder or snooze)."""
    parts = key.split(":")
    if key.startswith(REMINDER_KEY_PREFIX) and len(parts) == 4:
        return parse_day(parts[3])
    if key.startswith(SNOOZE_KEY_PREFIX) and len(parts) == 4:
        return parse_day(parts[2])
    return None


def planned_at(plan: Plan, day: date, profile: Profile) -> datetime:
    """The plan's time on local ``day``, in UTC (a time in a spring-forward gap moves on by the gap;
    in a fall-back overlap the first one counts), moved to the end of quiet hours if inside them."""
    return next_allowed(local_at(day, plan.hour, zone(profile.tz or "UTC"), plan.minute), profile)


def next_due(plan: Plan, after: datetime, profile: Profile) -> tuple[date, datetime]:
    """The next planned local day whose reminder time is later than ``after``, and that time."""
    start = after.astimezone(zone(profile.tz or "UTC")).date()
    for offset in range(0, 15):
        day = start + timedelta(days=offset)
        if day.weekday() not in plan.weekdays:
            continue
        at = planned_at(plan, day, profile)
        if at > after:
            return day, at
    raise ValueError("a plan needs at least one weekday")


def day_start(day: date, profile: Profile) -> datetime:
    """Local midnight of ``day``, in UTC."""
    return local_at(day, 0, zone(profile.tz or "UTC"))


def in_quiet(hour: int, minute: int, profile: Profile) -> bool:
    """Is this local clock time inside the person's quiet hours?"""
    start, end = profile.quiet_start, profile.quiet_end
    if start == end:
        return False
    at = hour + minute / 60
    return start <= at < end if start < end else at >= start or at < end


def at_reminder(
    plan: Plan,
    *,
    late_seconds: float,
    useful_seconds: float,
    done_today: bool,
    reminded_today: bool,
    ignored_before_offer: int,
) -> tuple[Verdict, Plan]:
    """Decide about a plan reminder that is due now, and the plan's new counters.

    Never a second reminder on one day; none after a session that day (that counts
    as an answer); none so late it is pointless. After ``ignored_before_offer``
    reminders in a row with no answer, the next one is replaced by one gentle
    offer to pause, once, until the person answers something.
    """
    if done_today:
        return Verdict.SKIP, plan.answered()
    if reminded_today:
        return Verdict.SKIP, plan
    if late_seconds > useful_seconds:
        return Verdict.DROP, plan
    if plan.ignored >= ignored_before_offer and not plan.pause_offered:
        return Verdict.OFFER_PAUSE, replace(plan, pause_offered=True)
    return Verdict.SEND, replace(plan, ignored=plan.ignored + 1)
