"""The streak: days in a row with a session, and sessions this week (pure, on a fixed clock).

Counted from the rated rounds, by the person's local date. Shown in /progress and
after each session, always encouraging: a broken streak is never mentioned as a
loss, only the fresh start ("welcome back").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.domain.content import Content
from bot.domain.profile import Profile
from bot.domain.progress import RoundRating
from bot.domain.timing import zone


@dataclass(frozen=True)
class Streak:
    """``days``: local days in a row with a session, ending today or yesterday (0: neither);
    ``this_week``: sessions since Monday; ``sessions``: all sessions so far."""

    days: int
    this_week: int
    sessions: int


def session_days(ratings: Sequence[RoundRating], profile: Profile) -> dict[int, date]:
    """The local date of each session (its first rated round)."""
    tz = zone(profile.tz or "UTC")
    days: dict[int, date] = {}
    for rating in sorted(ratings, key=lambda r: r.at):
        days.setdefault(rating.session, rating.at.astimezone(tz).date())
    return days


def streak_of(ratings: Sequence[RoundRating], now: datetime, profile: Profile) -> Streak:
    days = session_days(ratings, profile)
    dated = set(days.values())
    today = now.astimezone(zone(profile.tz or "UTC")).date()
    day = today if today in dated else today - timedelta(days=1)
    run = 0
    while day in dated:
        run += 1
        day -= timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    week = sum(1 for d in days.values() if monday <= d <= today)
    return Streak(days=run, this_week=week, sessions=len(days))


def _week(streak: Streak, content: Content) -> str:
    if streak.this_week == 1:
        return content.text("streak.week_one")
    return content.text("streak.week_many", count=streak.this_week)


def after_session(streak: Streak, content: Content) -> str:
    """Said after a session (today's is counted already)."""
    t = content.text
    if streak.days >= 2:
        return t("streak.after_run", days=streak.days, week=_week(streak, content))
    if streak.sessions > 1:
        return t("streak.after_welcome_back", week=_week(streak, content))
    return t("streak.after_first")


def in_progress(streak: Streak, content: Content) -> str:
    """The streak line of /progress."""
    t = content.text
    if streak.days >= 2:
        return t("streak.progress_run", days=streak.days, week=_week(streak, content))
    if streak.this_week:
        return t("streak.progress_week", week=_week(streak, content))
    return t("streak.progress_new_week")
