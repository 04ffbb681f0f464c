"""Progress from the person's rated rounds: the numbers behind the /progress chart and its words.

Pure: the service reads the rounds from the database and hands them over as
:class:`RoundRating` values; the chart (:mod:`bot.pictures.progress`) draws the
same :class:`Progress`. The bot collects no tenderness score: after each round
it asks "How does the knot feel now?" and the answer is one of softer, about
the same or worse. So the chart plots those answers as they are, never a
number made from them: for each session and area, the answer after the last
round on that area, at the time of that round (a line per area over time;
softer at the bottom, worse at the top).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.content import Content
from bot.domain.effects import Message

KNOTS: tuple[str, ...] = ("softer", "same", "worse")
"""The answers to "How does the knot feel now?", in the order the chart stacks them (bottom first)."""


@dataclass(frozen=True)
class RoundRating:
    """One finished round, as /progress needs it."""

    session: int
    area: str
    knot: str
    at: datetime


@dataclass(frozen=True)
class Point:
    """How the knot on an area felt at the end of one session: the answer after its last round there."""

    session: int  # position of the session, 0 for the first
    at: datetime  # when that round was recorded
    knot: str  # one of KNOTS


@dataclass(frozen=True)
class AreaLine:
    """One line of the chart: a point for each session that worked on the area, oldest first."""

    area: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Progress:
    """Sessions in order (when each started), one line per area, and the round counts."""

    sessions: tuple[datetime, ...]
    lines: tuple[AreaLine, ...]
    rounds: int
    softer: int
    latest: tuple[tuple[str, str], ...]  # (area, knot) of the last round of each area in the last session


def progress_of(ratings: Sequence[RoundRating]) -> Progress:
    """Group the ratings by session (in session order) and by area (in order of first use)."""
    rated = sorted((r for r in ratings if r.knot in KNOTS), key=lambda r: (r.session, r.at))
    numbers = sorted({r.session for r in rated})
    position = {number: i for i, number in enumerate(numbers)}
    started = tuple(min(r.at for r in rated if r.session == number) for number in numbers)
    last: dict[tuple[str, int], RoundRating] = {}  # (area, session) → its last round (rated is in order)
    for r in rated:
        last[(r.area, r.session)] = r
    areas = list(dict.fromkeys(r.area for r in rated))
    lines = tuple(
        AreaLine(
            area,
            tuple(
                Point(position[number], last[(area, number)].at, last[(area, number)].knot)
                for number in numbers
                if (area, number) in last
            ),
        )
        for area in areas
    )
    latest = tuple(
        (area, r.knot)
        for (area, number), r in sorted(last.items(), key=lambda item: item[1].at)
        if numbers and number == numbers[-1]
    )
    return Progress(
        sessions=started,
        lines=lines,
        rounds=len(rated),
        softer=sum(r.knot == "softer" for r in rated),
        latest=latest,
    )


def area_name(content: Content, area_id: str) -> str:
    """The area's name; an id no longer in the content (renamed since) is shown as words."""
    names = {a.id: a.name for a in content.areas}
    return names.get(area_id, area_id.replace("_", " ").capitalize())


def knot_word(content: Content, knot: str) -> str:
    words = {
        "softer": content.text("progress.knot_softer"),
        "same": content.text("progress.knot_same"),
        "worse": content.text("progress.knot_worse"),
    }
    return words[knot]


def count_sessions(content: Content, count: int) -> str:
    if count == 1:
        return content.text("progress.sessions_one")
    return content.text("progress.sessions_many", count=count)


def count_rounds(content: Content, count: int) -> str:
    if count == 1:
        return content.text("progress.rounds_one")
    return content.text("progress.rounds_many", count=count)


def summary(progress: Progress, content: Content) -> str:
    """The one-line summary and, for screen readers, what the chart shows in words."""
    line = content.text(
        "progress.summary",
        sessions=count_sessions(content, len(progress.sessions)),
        rounds=count_rounds(content, progress.rounds),
        areas=", ".join(area_name(content, a.area) for a in progress.lines),
        softer=progress.softer,
    )
    latest = "; ".join(
        f"{area_name(content, area)}: {knot_word(content, knot)}" for area, knot in progress.latest
    )
    return f"{line}\n{content.text('progress.chart_note', latest=latest)}"


def progress_message(ratings: Sequence[RoundRating], content: Content) -> Message:
    """The /progress reply: the chart with a summary, or a friendly note when nothing is rated yet."""
    progress = progress_of(ratings)
    if not progress.sessions:
        return Message(content.text("progress.nothing_yet"))
    return Message(summary(progress, content), attachment="progress")
