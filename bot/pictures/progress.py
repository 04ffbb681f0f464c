"""The /progress chart: how the knot felt at the end of each session, over time, one line per area.

Drawn at send time from the person's rows in ``session_rounds`` (so it always
shows the data as it is then). The vertical axis is the answer to "How does the
knot feel now?" after the session's last round on the area — softer at the
bottom, about the same, worse at the top — never a made-up score. The
horizontal axis is time, in the person's time zone when it is known (UTC
otherwise): each point sits at the time of that round, and the ticks adapt to
the span — times of day for sessions within a day or two, then days, weeks or
months. Points closer than a marker's width (several areas in one session, two
sessions an hour apart on a chart of months) are nudged apart in time order so
each stays visible, and each area's line sits a few pixels above or below the
answer's grid line so lines on the same answer do not hide each other. Each
area has its own colour *and* marker shape, so the lines stay apart for
colour-blind eyes and in greyscale. With no rated rounds it draws a friendly
"nothing yet" card instead (the reply text says the same).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from PIL import ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.content import Content
from bot.domain.progress import (
    KNOTS,
    Progress,
    RoundRating,
    area_name,
    count_rounds,
    count_sessions,
    knot_word,
    progress_of,
)
from bot.domain.timing import zone
from bot.pictures.draw import (
    GRID,
    INK,
    MUTED,
    PANEL,
    SCALE,
    SERIES,
    WIDTH,
    Colour,
    canvas,
    text_width,
    to_png,
    write,
)
from bot.storage.db import Database
from bot.storage.repositories import People, Records

PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 176, WIDTH - 36, 132, 452
PAD = 40  # final pixels between the plot's edge and the first and last point
MAX_TICKS = 7
TICK_SIZE = 17

CLOCK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720)  # minutes; each divides a day
DAY_STEPS = (1, 2, 7, 14)  # days; 7 and 14 fall on Mondays
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)


def _date(when: date) -> str:
    return f"{when.day} {when.strftime('%b')} {when.year}"


def _day(when: date) -> str:
    return f"{when.day} {when.strftime('%b')}"


@dataclass(frozen=True)
class Tick:
    at: datetime  # aware
    label: str


@dataclass(frozen=True)
class TimeAxis:
    """The time the chart spans (``first`` to ``last``), its ticks, and whether they are times of day."""

    first: datetime
    last: datetime
    ticks: tuple[Tick, ...]
    clock: bool

    def x(self, when: datetime) -> float:
        """The final-pixel x of a moment (the plot's middle when it spans no time)."""
        span = (self.last - self.first).total_seconds()
        if span <= 0:
            return (PLOT_LEFT + PLOT_RIGHT) / 2
        inner = PLOT_RIGHT - PLOT_LEFT - 2 * PAD
        return PLOT_LEFT + PAD + (when - self.first).total_seconds() / span * inner


def _clock_ticks(lo: datetime, hi: datetime, tz: tzinfo, minutes: int) -> Iterator[Tick]:
    step = timedelta(minutes=minutes)
    local = lo.astimezone(tz).replace(tzinfo=None)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    wall = midnight + step * math.ceil((local - midnight) / step)
    while (at := wall.replace(tzinfo=tz)) <= hi:
        if at >= lo:
            label = _day(wall.date()) if (wall.hour, wall.minute) == (0, 0) else wall.strftime("%H:%M")
            yield Tick(at, label)
        wall += step


def _day_ticks(lo: datetime, hi: datetime, tz: tzinfo, days: int) -> Iterator[Tick]:
    day = lo.astimezone(tz).date()
    while (at := datetime(day.year, day.month, day.day, tzinfo=tz)) <= hi:
        if days == 1:
            wanted = True
        elif days == 2:
            wanted = day.toordinal() % 2 == 0
        else:  # weeks start on Monday; every other Monday for two weeks
            wanted = day.weekday() == 0 and (days == 7 or day.toordinal() // 7 % 2 == 0)
        if wanted and at >= lo:
            yield Tick(at, _day(day))
        day += timedelta(days=1)


def _month_ticks(lo: datetime, hi: datetime, tz: tzinfo, months: int) -> Iterator[Tick]:
    start = lo.astimezone(tz)
    index = start.year * 12 + start.month - 1
    while (at := datetime(index // 12, index % 12 + 1, 1, tzinfo=tz)) <= hi:
        if index % months == 0 and at >= lo:
            if months >= 12:
                label = str(at.year)
            elif at.month == 1:
                label = f"{at.strftime('%b')} {at.year}"
            else:
                label = at.strftime("%b")
            yield Tick(at, label)
        index += 1


def time_axis(first: datetime, last: datetime, tz: tzinfo) -> TimeAxis:
    """Ticks for a chart from ``first`` to ``last``: the finest steps that give at most ``MAX_TICKS``."""
    span = last - first
    if span <= timedelta(0):
        return TimeAxis(first, last, (Tick(first, _day(first.astimezone(tz).date())),), clock=False)
    inner = PLOT_RIGHT - PLOT_LEFT - 2 * PAD
    margin = span * (PAD / inner)  # the time the padding at each end stands for
    lo, hi = first - margin, last + margin
    steps: list[tuple[timedelta, bool, Iterator[Tick]]] = [
        *((timedelta(minutes=m), True, _clock_ticks(lo, hi, tz, m)) for m in CLOCK_STEPS),
        *((timedelta(days=d), False, _day_ticks(lo, hi, tz, d)) for d in DAY_STEPS),
        *((timedelta(days=30 * m), False, _month_ticks(lo, hi, tz, m)) for m in MONTH_STEPS),
    ]
    for length, clock, ticks in steps:
        if (hi - lo) / length > MAX_TICKS + 1:
            continue  # far too many: do not even list them
        found = []
        for tick in ticks:
            found.append(tick)
            if len(found) > MAX_TICKS:
                break
        if len(found) <= MAX_TICKS:
            if not found:  # shorter than the finest step: name the moment itself
                local = first.astimezone(tz)
                found = [Tick(first, local.strftime("%H:%M"))]
            return TimeAxis(first, last, tuple(found), clock)
    years = math.ceil((hi - lo) / timedelta(days=365) / MAX_TICKS)  # decades of sessions
    return TimeAxis(first, last, tuple(_month_ticks(lo, hi, tz, 12 * years)), clock=False)


def _axis_title(axis: TimeAxis, content: Content, tz: tzinfo) -> str:
    first, last = axis.first.astimezone(tz), axis.last.astimezone(tz)
    if axis.clock:
        dates = _date(first.date())
        if last.date() != first.date():
            dates = content.text("progress.date_range", first=dates, last=_date(last.date()))
        return content.text("progress.axis_x_time", dates=dates)
    years = str(first.year)
    if last.year != first.year:
        years = content.text("progress.date_range", first=years, last=str(last.year))
    return content.text("progress.axis_x_date", years=years)


def dodge(xs: list[float], gap: float, low: float, high: float) -> list[float]:
    """Push sorted positions apart to at least ``gap`` (keeping their order), within [low, high]."""
    out = list(xs)
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] + gap)
    if out:
        out[-1] = min(out[-1], high)
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], out[i + 1] - gap)
    if out:
        out[0] = max(out[0], low)
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1])  # too many to fit: they touch, but never swap
    return out


def marker(
    draw: ImageDraw.ImageDraw, kind: str, centre: tuple[float, float], r: float, colour: Colour
) -> None:
    """A marker of ``kind`` with a white rim, ``r`` final pixels in radius."""
    cx, cy, s = centre[0] * SCALE, centre[1] * SCALE, r * SCALE
    shapes: dict[str, list[tuple[float, float]]] = {
        "square": [
            (cx - s * 0.85, cy - s * 0.85),
            (cx + s * 0.85, cy - s * 0.85),
            (cx + s * 0.85, cy + s * 0.85),
            (cx - s * 0.85, cy + s * 0.85),
        ],
        "triangle": [(cx, cy - s * 1.15), (cx + s, cy + s * 0.7), (cx - s, cy + s * 0.7)],
        "triangle_down": [(cx, cy + s * 1.15), (cx + s, cy - s * 0.7), (cx - s, cy - s * 0.7)],
        "diamond": [(cx, cy - s * 1.2), (cx + s * 1.2, cy), (cx, cy + s * 1.2), (cx - s * 1.2, cy)],
    }
    rim = 2 * SCALE
    if kind in shapes:
        draw.polygon(shapes[kind], fill=colour, outline=(255, 255, 255), width=rim)
    else:
        draw.ellipse((cx - s, cy - s, cx + s, cy + s), fill=colour, outline=(255, 255, 255), width=rim)


def _axes(draw: ImageDraw.ImageDraw, content: Content) -> None:
    box = (PLOT_LEFT * SCALE, PLOT_TOP * SCALE, PLOT_RIGHT * SCALE, PLOT_BOTTOM * SCALE)
    draw.rounded_rectangle(box, radius=10 * SCALE, fill=PANEL)
    write(draw, (PLOT_LEFT, PLOT_TOP - 14), content.text("progress.axis_y"), 19, MUTED, anchor="ls")
    for level, knot in enumerate(KNOTS):
        y = _y(level)
        draw.line(
            [(PLOT_LEFT * SCALE, y * SCALE), (PLOT_RIGHT * SCALE, y * SCALE)], fill=GRID, width=2 * SCALE
        )
        word = knot_word(content, knot)
        write(draw, (PLOT_LEFT - 12, y), word[:1].upper() + word[1:], 19, INK, anchor="rm")


def _y(level: int) -> float:
    pad = 34
    return PLOT_BOTTOM - pad - level / (len(KNOTS) - 1) * (PLOT_BOTTOM - PLOT_TOP - 2 * pad)


def _title(draw: ImageDraw.ImageDraw, content: Content, subtitle: str) -> None:
    write(draw, (32, 24), content.text("progress.title"), 30, INK, anchor="la", bold=True)
    write(draw, (32, 68), subtitle, 20, MUTED, anchor="la")


def _draw_ticks(draw: ImageDraw.ImageDraw, axis: TimeAxis) -> None:
    """A faint line and a label for each tick; a label that would touch the one before is left out."""
    right_of_last = -math.inf
    for tick in axis.ticks:
        x = axis.x(tick.at)
        if axis.last > axis.first:
            draw.line(
                [(x * SCALE, (PLOT_TOP + 6) * SCALE), (x * SCALE, (PLOT_BOTTOM - 6) * SCALE)],
                fill=GRID,
                width=SCALE,
            )
        half = text_width(tick.label, TICK_SIZE) / 2
        centre = min(max(x, 8 + half), WIDTH - 8 - half)
        if centre - half < right_of_last + 10:
            continue
        write(draw, (centre, PLOT_BOTTOM + 8), tick.label, TICK_SIZE, MUTED, anchor="mt")
        right_of_last = centre + half


def layout(progress: Progress, tz: tzinfo) -> tuple[TimeAxis, list[list[tuple[float, float]]], float]:
    """The time axis, the centre of every point (final pixels, one list per line) and the marker radius."""
    points = [(k, p) for k, line in enumerate(progress.lines) for p in line.points]
    axis = time_axis(min(p.at for _, p in points), max(p.at for _, p in points), tz)
    r = 7.0 if len(points) <= 40 else 5.0
    order = sorted(range(len(points)), key=lambda i: (points[i][1].at, points[i][0]))
    inner = PLOT_RIGHT - PLOT_LEFT - 2 * PAD
    gap = min(2 * r + 2, 0.6 * inner / max(1, len(points) - 1))
    xs = dodge([axis.x(points[i][1].at) for i in order], gap, PLOT_LEFT + 12, PLOT_RIGHT - 12)
    # lines on the same answer would hide each other: each area sits a little above or below it
    many = len(progress.lines)
    shift = min(5.0, 24.0 / max(1, many - 1))
    placed: list[list[tuple[float, float]]] = [[] for _ in range(many)]
    for i, x in zip(order, xs, strict=True):
        k, point = points[i]
        placed[k].append((x, _y(KNOTS.index(point.knot)) + (k - (many - 1) / 2) * shift))
    return axis, placed, r


def draw_chart(progress: Progress, content: Content, tz: tzinfo = UTC) -> bytes:
    """The chart PNG (or the "nothing yet" card when there is nothing rated)."""
    if not progress.sessions:
        return _nothing_yet(content)
    axis, placed, r = layout(progress, tz)
    legend = _legend_rows(progress, content)
    height = PLOT_BOTTOM + 76 + 36 * len(legend) + 16
    image = canvas(height)
    draw = ImageDraw.Draw(image)
    subtitle = content.text(
        "progress.subtitle",
        sessions=count_sessions(content, len(progress.sessions)),
        rounds=count_rounds(content, progress.rounds),
        since=_date(progress.sessions[0].astimezone(tz).date()),
    )
    _title(draw, content, subtitle)
    _axes(draw, content)
    _draw_ticks(draw, axis)
    write(
        draw,
        ((PLOT_LEFT + PLOT_RIGHT) / 2, PLOT_BOTTOM + 34),
        _axis_title(axis, content, tz),
        19,
        INK,
        anchor="mt",
    )
    for k, centres in enumerate(placed):
        colour, kind = SERIES[k % len(SERIES)]
        if len(centres) > 1:
            draw.line(
                [(x * SCALE, y * SCALE) for x, y in centres], fill=colour, width=3 * SCALE, joint="curve"
            )
        for centre in centres:
            marker(draw, kind, centre, r, colour)
    top = PLOT_BOTTOM + 76
    for row, entries in enumerate(legend):
        x = 32.0
        for k, name in entries:
            colour, kind = SERIES[k % len(SERIES)]
            y = top + row * 36 + 14
            draw.line([((x) * SCALE, y * SCALE), ((x + 34) * SCALE, y * SCALE)], fill=colour, width=3 * SCALE)
            marker(draw, kind, (x + 17, y), 7, colour)
            write(draw, (x + 44, y), name, 19, INK, anchor="lm")
            x += 44 + text_width(name, 19) + 28
    return to_png(image)


def _legend_rows(progress: Progress, content: Content) -> list[list[tuple[int, str]]]:
    rows: list[list[tuple[int, str]]] = [[]]
    used = 32.0
    for k, line in enumerate(progress.lines):
        name = area_name(content, line.area)
        width = 44 + text_width(name, 19) + 28
        if rows[-1] and used + width > WIDTH - 20:
            rows.append([])
            used = 32.0
        rows[-1].append((k, name))
        used += width
    return rows


def _nothing_yet(content: Content) -> bytes:
    image = canvas(PLOT_BOTTOM + 40)
    draw = ImageDraw.Draw(image)
    _title(draw, content, content.text("progress.empty_body"))
    _axes(draw, content)
    middle = (PLOT_LEFT + PLOT_RIGHT) / 2
    write(
        draw,
        (middle, (PLOT_TOP + PLOT_BOTTOM) / 2),
        content.text("progress.empty_title"),
        26,
        MUTED,
        anchor="mm",
    )
    return to_png(image)


def person_zone(name: str | None) -> tzinfo:
    """The person's time zone for the dates on the chart; UTC when unknown or no longer valid."""
    try:
        return zone(name) if name else UTC
    except ValueError:
        return UTC


async def render_progress(db: Database, content: Content, person_id: int) -> bytes:
    """Read the person's rounds and time zone and draw the chart (drawing runs in a worker thread)."""

    async def work(session: AsyncSession) -> tuple[list[RoundRating], str | None]:
        person = await People(session).get(person_id)
        return await Records(session).ratings(person_id), person.tz if person is not None else None

    ratings, tz = await db.run(work)
    return await asyncio.to_thread(draw_chart, progress_of(ratings), content, person_zone(tz))
