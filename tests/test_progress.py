"""/progress: the points, the words, the time axis and the chart, from real database rows on SQLite."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.content_loader import load_content
from bot.domain.content import Content
from bot.domain.progress import KNOTS, Point, Progress, RoundRating, progress_message, progress_of
from bot.pictures import progress as chart
from bot.pictures.draw import WIDTH
from bot.pictures.progress import (
    PLOT_LEFT,
    PLOT_RIGHT,
    dodge,
    layout,
    person_zone,
    render_progress,
    time_axis,
)
from bot.storage.db import Database
from bot.storage.models import Person, SessionRound
from bot.storage.repositories import Records

START = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)
PEOPLE = itertools.count(1)


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await database.create_schema()
    yield database  # type: ignore[misc]
    await database.dispose()


async def add_person(db: Database, rows: list[tuple[float, int, str, str]], tz: str | None = None) -> int:
    """rows: (days after START, session, area, knot)."""
    async with db.transaction() as session:
        person = Person(channel="telegram", external_id=f"p{next(PEOPLE)}", chat_id="1", tz=tz)
        session.add(person)
        await session.flush()
        for i, (days, number, area, knot) in enumerate(rows):
            session.add(
                SessionRound(
                    person_id=person.id,
                    session=number,
                    round=i + 1,
                    area=area,
                    tool="ball",
                    technique="static_pressure",
                    hold_seconds=30,
                    intensity="right",
                    knot=knot,
                    created_at=START + timedelta(days=days, minutes=i),
                )
            )
        return person.id


def check_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.width == WIDTH and 400 <= image.height <= 800
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100
    return image


def test_points_are_the_answer_after_each_sessions_last_round_on_the_area() -> None:
    day = timedelta(days=1)
    ratings = [
        RoundRating(3, "calves", "worse", START),
        RoundRating(3, "calves", "softer", START + timedelta(minutes=1)),
        RoundRating(5, "neck", "same", START + day),
        RoundRating(5, "calves", "softer", START + day + timedelta(minutes=1)),
        RoundRating(5, "calves", "same", START + day + timedelta(minutes=2)),
        RoundRating(5, "calves", "unknown", START + day + timedelta(minutes=3)),  # ignored
    ]
    progress = progress_of(ratings)
    assert progress.sessions == (START, START + day)
    assert [(a.area, a.points) for a in progress.lines] == [
        (
            "calves",
            (
                Point(0, START + timedelta(minutes=1), "softer"),
                Point(1, START + day + timedelta(minutes=2), "same"),
            ),
        ),
        ("neck", (Point(1, START + day, "same"),)),
    ]
    # every point is one of the answers the bot asked for: nothing is averaged into a score
    assert {p.knot for line in progress.lines for p in line.points} <= set(KNOTS)
    assert (progress.rounds, progress.softer) == (5, 2)
    assert progress.latest == (("neck", "same"), ("calves", "same"))


def test_the_x_axis_is_time_not_session_number() -> None:
    utc = ZoneInfo("UTC")
    axis = time_axis(START, START + timedelta(days=10), utc)
    one, ten = (
        axis.x(START + timedelta(days=1)) - axis.x(START),
        axis.x(START + timedelta(days=10)) - axis.x(START),
    )
    assert ten == pytest.approx(10 * one)  # evenly spaced sessions would have put these 1 apart
    assert PLOT_LEFT < axis.x(START) < axis.x(START + timedelta(days=10)) < PLOT_RIGHT
    assert not axis.clock
    assert [t.label for t in axis.ticks][:2] == ["4 Mar", "6 Mar"]  # a tick every other day
    assert {b.at - a.at for a, b in itertools.pairwise(axis.ticks)} == {timedelta(days=2)}
    assert all(PLOT_LEFT <= axis.x(t.at) <= PLOT_RIGHT for t in axis.ticks)


def test_the_chart_places_sessions_by_their_time() -> None:
    day = timedelta(days=1)
    ratings = [RoundRating(n, "neck", "same", START + d * day) for n, d in ((1, 0), (2, 1), (3, 10))]
    ratings.append(RoundRating(3, "jaw", "softer", START + 10 * day))  # same time: nudged, not hidden
    _, placed, r = layout(progress_of(ratings), UTC)
    (x0, _), (x1, _), (x10, y_neck) = placed[0]
    assert x10 - x0 == pytest.approx(10 * (x1 - x0))  # by session number they would be evenly spaced
    ((x_jaw, y_jaw),) = placed[1]
    assert abs(x_jaw - x10) >= 2 * r  # one marker does not cover the other
    assert y_jaw > y_neck  # softer is drawn lower than about the same


def test_sessions_on_one_day_get_times_of_day() -> None:
    axis = time_axis(START.replace(hour=8), START.replace(hour=20), ZoneInfo("UTC"))
    assert axis.clock
    labels = [t.label for t in axis.ticks]
    assert labels == ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00", "20:00"]
    over_midnight = time_axis(START.replace(hour=20), START.replace(hour=20) + timedelta(hours=8), UTC)
    assert "4 Mar" in [t.label for t in over_midnight.ticks]  # the midnight tick names the new day


def test_weeks_and_months_get_mondays_and_months() -> None:
    weeks = time_axis(START, START + timedelta(days=40), UTC)
    assert [t.at.weekday() for t in weeks.ticks] == [0] * len(weeks.ticks)
    assert 3 <= len(weeks.ticks) <= chart.MAX_TICKS
    months = time_axis(START, START + timedelta(days=400), UTC)
    assert all(t.at.day == 1 for t in months.ticks)
    assert "Jan 2026" in [t.label for t in months.ticks]
    single = time_axis(START, START, UTC)
    assert [t.label for t in single.ticks] == ["3 Mar"] and single.x(START) == (PLOT_LEFT + PLOT_RIGHT) / 2


def test_dates_are_in_the_persons_time_zone() -> None:
    auckland = person_zone("Pacific/Auckland")  # 18:00 UTC on 3 March is 07:00 on 4 March there
    assert [t.label for t in time_axis(START, START, auckland).ticks] == ["4 Mar"]
    assert person_zone(None) is UTC and person_zone("Not/AZone") is UTC
    assert person_zone("UTC+05:30").utcoffset(None) == timedelta(hours=5, minutes=30)


def test_points_closer_than_a_marker_are_nudged_apart_in_order() -> None:
    xs = dodge([100.0, 100.0, 101.0, 300.0, 598.0], 16.0, 50.0, 600.0)
    assert xs == sorted(xs)
    assert all(b - a >= 16.0 for a, b in itertools.pairwise(xs))
    assert xs[3] == 300.0 and xs[-1] <= 600.0
    crowded = dodge([100.0] * 50, 16.0, 50.0, 600.0)  # cannot all fit: kept in order, inside the plot
    assert crowded == sorted(crowded) and crowded[0] >= 50.0 and crowded[-1] <= 600.0


def test_words_with_and_without_data(content: Content) -> None:
    empty = progress_message([], content)
    assert empty.attachment is None and "Nothing to show yet" in empty.text
    one = progress_message([RoundRating(1, "upper_back", "softer", START)], content)
    assert one.attachment == "progress"
    first_line = one.text.splitlines()[0]
    assert "1 session and 1 round, on Upper back" in first_line
    assert "softer after 1 of those rounds" in first_line
    assert "Upper back: softer" in one.text
    note = one.text.splitlines()[1]
    assert "How does the knot feel now?" in note and "by date" in note  # says what is plotted


async def test_chart_of_one_session(db: Database, content: Content) -> None:
    person = await add_person(db, [(0, 1, "upper_back", "same"), (0, 1, "upper_back", "softer")])
    check_png(await render_progress(db, content, person))


async def test_chart_of_many_sessions_and_several_areas(db: Database, content: Content) -> None:
    rows = [(d, d + 1, "lower_back", ("worse", "same", "softer")[min(2, d // 10)]) for d in range(45)]
    rows += [(d, d + 1, area, "same") for d in range(0, 45, 3) for area in ("glutes", "calves", "neck")]
    person = await add_person(db, rows)
    image = check_png(await render_progress(db, content, person))
    several = await add_person(db, [(0, 1, "neck", "same"), (1, 2, "jaw", "worse"), (2, 3, "feet", "softer")])
    assert check_png(await render_progress(db, content, several)).height <= image.height + 40
    async with db.transaction() as session:
        ratings = await Records(session).ratings(person)
    assert len(progress_of(ratings).sessions) == 45
    assert len(progress_of(ratings).lines) == 4


async def test_chart_of_sessions_on_one_day_and_over_weeks(db: Database, content: Content) -> None:
    same_day = [
        (0, 1, "neck", "same"),
        (0.2, 2, "neck", "softer"),
        (0.2, 2, "jaw", "worse"),
        (0.3, 3, "jaw", "same"),
    ]
    check_png(await render_progress(db, content, await add_person(db, same_day)))
    weeks = [
        (d, n, "calves", k)
        for n, (d, k) in enumerate([(0, "same"), (3, "same"), (3.1, "softer"), (30, "softer")])
    ]
    check_png(await render_progress(db, content, await add_person(db, weeks)))


async def test_chart_uses_the_persons_time_zone(
    db: Database, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[Progress, object]] = []
    original = chart.draw_chart

    def spy(progress: Progress, content: Content, tz: object = UTC) -> bytes:
        drawn.append((progress, tz))
        return original(progress, content, tz)  # type: ignore[arg-type]

    monkeypatch.setattr(chart, "draw_chart", spy)
    person = await add_person(db, [(0, 1, "neck", "same")], tz="Pacific/Auckland")
    check_png(await render_progress(db, content, person))
    assert drawn[0][1] == ZoneInfo("Pacific/Auckland")
    assert drawn[0][0].lines[0].points[0].knot == "same"


async def test_chart_with_nothing_yet_is_a_card(db: Database, content: Content) -> None:
    person = await add_person(db, [])
    check_png(await render_progress(db, content, person))


async def test_rounds_of_areas_no_longer_in_the_content_still_draw(db: Database, content: Content) -> None:
    person = await add_person(db, [(0, 1, "elbow", "same"), (1, 2, "elbow", "softer")])
    check_png(await render_progress(db, content, person))
