"""Progress from the person's rated rounds: the numbers behind the /progress chart and its words.

Pure: the service reads the rounds from the database and hands them over as
:class:`RoundRating` values; the chart (:mod:`bot.pictures.progress`) draws the
same :class:`Progress`. Each round's "how does the knot feel now?" answer
becomes a score — softer 0, about the same 1, worse 2 — and a session's score
for an area is the mean over its rounds there, so a line going down is good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.content import Content
from bot.domain.effects import Message

KNOT_SCORE: dict[str, float] = {"softer": 0.0, "same": 1.0, "worse": 2.0}


@dataclass(frozen=True)
class RoundRating:
    """One finished round, as /progress needs it."""

    session: int
    area: str
    knot: str
    at: datetime


@dataclass(frozen=True)
class AreaLine:
    """One line of the chart: (session position, mean score) for the sessions that worked on the area."""

    area: str
    points: tuple[tuple[int, float], ...]


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
    rated = [r for r in ratings if r.knot in KNOT_SCORE]
    numbers = sorted({r.session for r in rated})
    position = {number: i for i, number in enumerate(numbers)}
    started = tuple(min(r.at for r in rated if r.session == number) for number in numbers)
    areas: list[str] = []
    for r in sorted(rated, key=lambda r: (position[r.session], r.at)):
        if r.area not in areas:
            areas.append(r.area)
    lines = []
    for area in areas:
        points = []
        for number in numbers:
            scores = [KNOT_SCORE[r.knot] for r in rated if r.area == area and r.session == number]
            if scores:
                points.append((position[number], sum(scores) / len(scores)))
        lines.append(AreaLine(area, tuple(points)))
    latest: dict[str, str] = {}
    if numbers:
        for r in sorted((r for r in rated if r.session == numbers[-1]), key=lambda r: r.at):
            latest[r.area] = r.knot
    return Progress(
        sessions=started,
        lines=tuple(lines),
        rounds=len(rated),
        softer=sum(r.knot == "softer" for r in rated),
        latest=tuple(latest.items()),
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
