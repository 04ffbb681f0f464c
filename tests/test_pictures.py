"""Area pictures: every area has one, it renders to a clean PNG, and its cache key follows its content."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.content_loader import DEFAULT_CONTENT_DIR, ContentError, load_content
from bot.domain.content import AREA_IDS, Content
from bot.domain.pictures import describe
from bot.pictures.areas import HEIGHT, cache_key, render_area
from bot.pictures.draw import WIDTH
from bot.pictures.renderers import area_renderer


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


def test_every_area_has_a_picture(content: Content) -> None:
    assert set(content.pictures.areas) == set(AREA_IDS)


@pytest.mark.parametrize("area_id", AREA_IDS)
def test_every_area_picture_renders(content: Content, area_id: str) -> None:
    data = render_area(content, area_id)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "too few colours: blank or not anti-aliased"
    # the three kinds of mark are all drawn (their fill colours are present in the panel)
    panel = rgb.crop((196, 78, 604, 638)).getcolors(maxcolors=1 << 20)
    assert panel is not None
    # knots (vermillion), the tool (blue) and zones to avoid (purple) are all drawn
    for colour in ((213, 94, 0), (0, 114, 178), (204, 121, 167)):
        near = sum(n for n, c in panel if sum(abs(a - b) for a, b in zip(c, colour, strict=True)) < 24)
        assert near > 20, (area_id, colour)


def test_caption_says_what_the_picture_shows(content: Content) -> None:
    words = describe(content, "upper_back")
    picture = content.pictures.areas["upper_back"]
    for mark in (*picture.knots, *picture.place, *picture.avoid):
        assert mark.label in words
    assert "seen from behind" in words


def test_cache_key_is_stable_and_changes_with_the_drawing(content: Content) -> None:
    key = cache_key(content, "neck")
    assert key.startswith("area:neck:") and len(key) <= 128
    assert cache_key(load_content(), "neck") == key
    bumped = content.model_copy(
        update={"pictures": content.pictures.model_copy(update={"version": content.pictures.version + 1})}
    )
    assert cache_key(bumped, "neck") != key
    renamed = content.model_copy(update={"strings": {**content.strings, "pictures.legend_avoid": "Not here"}})
    assert cache_key(renamed, "neck") != key
    assert len({cache_key(content, a) for a in AREA_IDS}) == len(AREA_IDS)


async def test_renderer_draws_once_and_rejects_unknown_areas(content: Content) -> None:
    render = area_renderer(content)
    first = await render(1, "calves")
    second = await render(2, "calves")
    assert first.kind == "photo" and first.filename == "calves.png"
    assert first.data is second.data and first.cache_key == cache_key(content, "calves")
    with pytest.raises(KeyError):
        await render(1, "elbow")


def test_a_mark_outside_its_frame_is_a_content_error(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, broken)
    path = broken / "pictures.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("frame: [28, 0, 72, 56]", "frame: [28, 0, 40, 56]", 1), encoding="utf-8")
    with pytest.raises(ContentError, match=r"pictures\.yaml.*neck"):
        load_content(broken)


def test_a_missing_area_picture_is_a_content_error(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, broken)
    path = broken / "pictures.yaml"
    text = path.read_text(encoding="utf-8")
    renamed = text.replace("    jaw:\n      view: face", "    jaws:\n      view: face")
    path.write_text(renamed, encoding="utf-8")
    with pytest.raises(ContentError, match="jaw"):
        load_content(broken)


def test_terminal_chat_saves_the_pictures_and_prints_their_paths(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KNOTBOT_", "DATABASE_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
            "KNOTBOT_TIME_SCALE": "0.01",
            "KNOTBOT_DATA_DIR": str(tmp_path / "data"),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    steps = ["/progress", "1", "1", "tight hammies", "1", "1", "1", "1", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="\n".join(steps) + "\n",
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Nothing to show yet" in out
    picture = tmp_path / "data" / "pictures" / "hamstrings.png"
    assert f"saved photo: {picture.resolve()}" in out
    assert Image.open(picture).size == (WIDTH, HEIGHT)
    assert "In the picture (seen from behind)" in out
    assert "Traceback" not in done.stderr
