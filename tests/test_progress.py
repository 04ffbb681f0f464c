"""/progress: the numbers, the words and the chart, from real database rows on SQLite."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.content_loader import load_content
from bot.domain.content import Content
from bot.domain.progress import RoundRating, progress_message, progress_of
from bot.pictures.draw import WIDTH
from bot.pictures.progress import render_progress
from bot.storage.db import Database
from bot.storage.models import Person, SessionRound
from bot.storage.repositories import Records

START = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await database.create_schema()
    yield database  # type: ignore[misc]
    await database.dispose()


async def add_person(db: Database, rows: list[tuple[int, int, str, str]]) -> int:
    """rows: (days after START, session, area, knot)."""
    async with db.transaction() as session:
        person = Person(channel="telegram", external_id=f"p{len(rows)}", chat_id="1")
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


def test_scores_sessions_and_areas() -> None:
    ratings = [
        RoundRating(3, "calves", "worse", START),
        RoundRating(3, "calves", "softer", START + timedelta(minutes=1)),
        RoundRating(5, "neck", "same", START + timedelta(days=1)),
        RoundRating(5, "calves", "softer", START + timedelta(days=1, minutes=1)),
        RoundRating(5, "calves", "unknown", START + timedelta(days=1, minutes=2)),  # ignored
    ]
    progress = progress_of(ratings)
    assert progress.sessions == (START, START + timedelta(days=1))
    assert [(a.area, a.points) for a in progress.lines] == [
        ("calves", ((0, 1.0), (1, 0.0))),
        ("neck", ((1, 1.0),)),
    ]
    assert (progress.rounds, progress.softer) == (4, 2)
    assert progress.latest == (("neck", "same"), ("calves", "softer"))


def test_words_with_and_without_data(content: Content) -> None:
    empty = progress_message([], content)
    assert empty.attachment is None and "Nothing to show yet" in empty.text
    one = progress_message([RoundRating(1, "upper_back", "softer", START)], content)
    assert one.attachment == "progress"
    first_line = one.text.splitlines()[0]
    assert "1 session and 1 round, on Upper back" in first_line
    assert "softer after 1 of those rounds" in first_line
    assert "Upper back: softer" in one.text


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


async def test_chart_with_nothing_yet_is_a_card(db: Database, content: Content) -> None:
    person = await add_person(db, [])
    check_png(await render_progress(db, content, person))


async def test_rounds_of_areas_no_longer_in_the_content_still_draw(db: Database, content: Content) -> None:
    person = await add_person(db, [(0, 1, "elbow", "same"), (1, 2, "elbow", "softer")])
    check_png(await render_progress(db, content, person))
