"""Render every area picture and sample progress charts, and a contact sheet of them all.

    .venv/bin/python scripts/render_pictures.py [--out docs/pictures] [--singles] [--neutral]

The area pictures are the ones the bot sends: one per area and tool the area
offers (``--neutral`` adds each area's tool-neutral fallback). The charts are
drawn from real rows in a throw-away SQLite database (the same code path as
``/progress``). Look at the sheet after changing content/pictures.yaml or
bot/pictures/ (docs/pictures.md says what to check).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from bot.content_loader import load_content
from bot.domain.content import AREA_IDS, Content
from bot.pictures.areas import render_area
from bot.pictures.draw import font
from bot.pictures.progress import render_progress
from bot.storage.db import Database
from bot.storage.models import Person, SessionRound

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)

# (name, [(days after START, session, area, [knot ratings of its rounds, 5 minutes apart])])
SAMPLES: dict[str, list[tuple[float, int, str, list[str]]]] = {
    "progress-one-session": [(0, 1, "upper_back", ["same", "softer"])],
    "progress-one-day": [
        (-0.4, 1, "neck", ["same"]),
        (-0.4, 1, "upper_traps", ["worse"]),
        (-0.2, 2, "neck", ["same", "softer"]),
        (0, 3, "neck", ["softer"]),
        (0, 3, "upper_traps", ["same", "softer"]),
    ],
    "progress-weeks": [
        (0, 1, "calves", ["same", "same"]),
        (3, 2, "calves", ["same"]),
        (3.3, 3, "calves", ["softer"]),
        (3.3, 3, "feet", ["worse"]),
        (10, 4, "feet", ["same", "softer"]),
        (17, 5, "calves", ["softer"]),
        (24, 6, "calves", ["softer"]),
        (24, 6, "feet", ["softer"]),
    ],
    "progress-several-areas": [
        (0, 1, "upper_back", ["same", "same"]),
        (2, 2, "upper_back", ["same", "softer"]),
        (2, 2, "calves", ["worse"]),
        (5, 3, "calves", ["same", "softer"]),
        (6, 4, "upper_back", ["softer", "softer"]),
        (6, 4, "neck", ["same"]),
        (9, 5, "calves", ["softer"]),
        (9, 5, "neck", ["softer", "softer"]),
    ],
    "progress-many-sessions": [
        (i, i + 1, area, [knot])
        for i in range(40)
        for area, knot in (
            ("lower_back", ("worse", "same", "same", "softer", "softer")[min(4, i // 8)]),
            ("glutes", "same" if i < 20 or i % 6 == 0 else "softer"),
        )
        if i % 2 == 0 or area == "lower_back"
    ],
}


async def chart_from_rows(content: Content, rows: list[tuple[float, int, str, list[str]]]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'sample.db'}")
        await db.create_schema()
        async with db.transaction() as session:
            person = Person(channel="terminal", external_id="sample", chat_id="sample")
            session.add(person)
            await session.flush()
            for days, number, area, knots in rows:
                for i, knot in enumerate(knots, start=1):
                    session.add(
                        SessionRound(
                            person_id=person.id,
                            session=number,
                            round=i,
                            area=area,
                            tool="ball",
                            technique="static_pressure",
                            hold_seconds=30,
                            intensity="right",
                            knot=knot,
                            created_at=START + timedelta(days=days, minutes=5 * i),
                        )
                    )
            person_id = person.id
        data = await render_progress(db, content, person_id)
        await db.dispose()
        return data


def contact_sheet(pictures: list[tuple[str, bytes]], columns: int = 4, thumb_width: int = 400) -> Image.Image:
    thumbs = []
    for name, data in pictures:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        height = round(image.height * thumb_width / image.width)
        thumbs.append((name, image.resize((thumb_width, height), Image.Resampling.LANCZOS)))
    cell_h = max(t.height for _, t in thumbs) + 34
    rows = (len(thumbs) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (thumb_width + 16) + 16, rows * cell_h + 16), (200, 204, 210))
    draw = ImageDraw.Draw(sheet)
    label_font = font(6)  # drawn at 3x: 18 px
    for i, (name, thumb) in enumerate(thumbs):
        x = 16 + (i % columns) * (thumb_width + 16)
        y = 16 + (i // columns) * cell_h
        draw.text((x, y), name, fill=(20, 20, 20), font=label_font)
        sheet.paste(thumb, (x, y + 26))
    return sheet


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "pictures")
    parser.add_argument("--singles", action="store_true", help="also write each picture on its own")
    parser.add_argument("--neutral", action="store_true", help="add each area's tool-neutral picture")
    args = parser.parse_args()
    content = load_content()
    pictures = []
    for area_id in AREA_IDS:
        for setup in content.area(area_id).tools:
            pictures.append((f"area-{area_id}-{setup.tool}", render_area(content, area_id, setup.tool)))
        if args.neutral:
            pictures.append((f"area-{area_id}", render_area(content, area_id)))
    for name, rows in SAMPLES.items():
        pictures.append((name, await chart_from_rows(content, rows)))
    pictures.append(("progress-nothing-yet", await chart_from_rows(content, [])))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.singles:
        for name, data in pictures:
            (args.out / f"{name}.png").write_bytes(data)
    contact_sheet(pictures).save(args.out / "contact-sheet.png", optimize=True)
    print(f"wrote {len(pictures)} pictures and the contact sheet to {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
