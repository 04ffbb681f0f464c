"""The /progress chart: how the knot felt after each session, one line per area, and how many sessions.

Drawn at send time from the person's rows in ``session_rounds`` (so it always
shows the data as it is then). Lower is better: softer at the bottom, worse at
the top. Each area has its own colour *and* marker shape, so the lines stay
apart for colour-blind eyes and in greyscale. With no rated rounds it draws a
friendly "nothing yet" card instead (the reply text says the same).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime

from PIL import ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.content import Content
from bot.domain.progress import (
    Progress,
    RoundRating,
    area_name,
    count_rounds,
    count_sessions,
    knot_word,
    progress_of,
)
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
from bot.storage.repositories import Records

PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 176, WIDTH - 36, 132, 452
MAX_TICK_LABELS = 12


def _date(when: datetime) -> str:
    return f"{when.day} {when.strftime('%b')} {when.year}"


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
    for knot in ("softer", "same", "worse"):
        y = _y(("softer", "same", "worse").index(knot))
        draw.line(
            [(PLOT_LEFT * SCALE, y * SCALE), (PLOT_RIGHT * SCALE, y * SCALE)], fill=GRID, width=2 * SCALE
        )
        word = knot_word(content, knot)
        write(draw, (PLOT_LEFT - 12, y), word[:1].upper() + word[1:], 19, INK, anchor="rm")


def _y(score: float) -> float:
    pad = 34
    return PLOT_BOTTOM - pad - score / 2 * (PLOT_BOTTOM - PLOT_TOP - 2 * pad)


def _x(position: int, count: int) -> float:
    pad = 40
    if count == 1:
        return (PLOT_LEFT + PLOT_RIGHT) / 2
    return PLOT_LEFT + pad + position * (PLOT_RIGHT - PLOT_LEFT - 2 * pad) / (count - 1)


def _title(draw: ImageDraw.ImageDraw, content: Content, subtitle: str) -> None:
    write(draw, (32, 24), content.text("progress.title"), 30, INK, anchor="la", bold=True)
    write(draw, (32, 68), subtitle, 20, MUTED, anchor="la")


def draw_chart(progress: Progress, content: Content) -> bytes:
    """The chart PNG (or the "nothing yet" card when there is nothing rated)."""
    if not progress.sessions:
        return _nothing_yet(content)
    count = len(progress.sessions)
    legend = _legend_rows(progress, content)
    height = PLOT_BOTTOM + 76 + 36 * len(legend) + 16
    image = canvas(height)
    draw = ImageDraw.Draw(image)
    subtitle = content.text(
        "progress.subtitle",
        sessions=count_sessions(content, count),
        rounds=count_rounds(content, progress.rounds),
        since=_date(progress.sessions[0]),
    )
    _title(draw, content, subtitle)
    _axes(draw, content)
    step = math.ceil(count / MAX_TICK_LABELS)
    for i in range(count):
        x = _x(i, count)
        if i % step == 0 or i == count - 1:
            if i == count - 1 and i % step != 0 and (i - i % step) > i - step / 2:
                continue  # too close to the last labelled tick
            write(draw, (x, PLOT_BOTTOM + 8), str(i + 1), 17, MUTED, anchor="mt")
    write(
        draw,
        ((PLOT_LEFT + PLOT_RIGHT) / 2, PLOT_BOTTOM + 34),
        content.text("progress.axis_x"),
        19,
        INK,
        anchor="mt",
    )
    spread = min(7.0, (PLOT_RIGHT - PLOT_LEFT) / max(1, count) * 0.18)
    r = 7.0 if count <= 20 else 5.0
    many = len(progress.lines)
    for k, line in enumerate(progress.lines):
        colour, kind = SERIES[k % len(SERIES)]
        offset = (k - (many - 1) / 2) * spread
        points = [(_x(pos, count) + offset, _y(score)) for pos, score in line.points]
        if len(points) > 1:
            draw.line(
                [(x * SCALE, y * SCALE) for x, y in points], fill=colour, width=3 * SCALE, joint="curve"
            )
        for point in points:
            marker(draw, kind, point, r, colour)
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


async def render_progress(db: Database, content: Content, person_id: int) -> bytes:
    """Read the person's rounds and draw the chart (drawing runs in a worker thread)."""

    async def work(session: AsyncSession) -> list[RoundRating]:
        return await Records(session).ratings(person_id)

    ratings: list[RoundRating] = await db.run(work)
    return await asyncio.to_thread(draw_chart, progress_of(ratings), content)
