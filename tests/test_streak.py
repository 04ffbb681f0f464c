"""The streak with a fixed clock: days in a row by local date, sessions this week, and words that
encourage and never dwell on a streak that broke."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.content_loader import DEFAULT_CONTENT_DIR, load_content
from bot.domain.content import Content
from bot.domain.profile import Profile
from bot.domain.progress import RoundRating
from bot.domain.streak import Streak, after_session, in_progress, streak_of

BERLIN = Profile(tz="Europe/Berlin")
NOW = datetime(2027, 12, 9, 12, tzinfo=UTC)  # Thursday


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(DEFAULT_CONTENT_DIR)


def rounds(*days: tuple[int, int]) -> list[RoundRating]:
    """One session per (day of December 2027, UTC hour), two rounds each."""
    out = []
    for n, (day, hour) in enumerate(days, start=1):
        for minute in (0, 5):
            out.append(
                RoundRating(
                    session=n,
                    area="neck",
                    knot="softer",
                    at=datetime(2027, 12, day, hour, minute, tzinfo=UTC),
                )
            )
    return out


def test_days_in_a_row_end_today_or_yesterday() -> None:
    assert streak_of(rounds((7, 12), (8, 12), (9, 8)), NOW, BERLIN) == Streak(days=3, this_week=3, sessions=3)
    # nothing yet today: the run up to yesterday still stands
    assert streak_of(rounds((7, 12), (8, 12)), NOW, BERLIN).days == 2
    # a day missed: no run
    assert streak_of(rounds((6, 12), (7, 12)), NOW, BERLIN).days == 0


def test_two_sessions_on_one_day_count_that_day_once_and_the_week_twice() -> None:
    s = streak_of(rounds((9, 8), (9, 10)), NOW, BERLIN)
    assert (s.days, s.this_week, s.sessions) == (1, 2, 2)


def test_local_dates_decide_the_day_and_the_week_starts_on_monday() -> None:
    # 23:30 UTC on Sunday the 5th is already Monday the 6th in Berlin
    late = rounds((5, 23))
    assert streak_of(late, NOW, BERLIN).this_week == 1
    assert streak_of(late, NOW, Profile(tz="UTC")).this_week == 0


def test_words_encourage_and_never_mention_a_broken_streak(content: Content) -> None:
    run = after_session(Streak(days=3, this_week=3, sessions=5), content)
    assert "3 days in a row" in run and "3 sessions this week" in run
    back = after_session(Streak(days=1, this_week=1, sessions=5), content)
    assert back.startswith("Welcome back") and "1 session this week" in back
    assert after_session(Streak(days=1, this_week=1, sessions=1), content) == content.text(
        "streak.after_first"
    )
    for streak in (Streak(0, 0, 4), Streak(1, 2, 4), Streak(5, 5, 9)):
        for text in (after_session(streak, content), in_progress(streak, content)):
            assert not any(word in text.lower() for word in ("broke", "lost", "missed", "fail")), text
    assert in_progress(Streak(0, 0, 4), content) == content.text("streak.progress_new_week")
