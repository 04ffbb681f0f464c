"""Area pictures: every area has one per tool, it renders to a clean PNG, its words name the chosen
tool, and its cache key follows the area, the tool and what is drawn."""

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
from bot.domain.pictures import attachment_spec, describe, parse_spec_argument
from bot.pictures.areas import HEIGHT, cache_key, render_area
from bot.pictures.draw import WIDTH
from bot.pictures.renderers import area_renderer

# the words that name each tool (a new tool in tools.yaml needs its words here)
TOOL_WORDS = {"ball": ("ball",), "foam_roller": ("roller",), "fingers": ("finger", "thumb")}
CONTENT = load_content()
AREA_TOOLS = [(area.id, setup.tool) for area in CONTENT.areas for setup in area.tools]


@pytest.fixture(scope="module")
def content() -> Content:
    return CONTENT


def names(text: str) -> set[str]:
    """The tools whose words appear in ``text``."""
    return {tool for tool, words in TOOL_WORDS.items() if any(w in text.lower() for w in words)}


def test_every_area_has_a_picture(content: Content) -> None:
    assert set(content.pictures.areas) == set(AREA_IDS)


def test_every_tool_an_area_offers_has_its_own_place_marks(content: Content) -> None:
    assert set(TOOL_WORDS) == {t.id for t in content.tools}
    for area in content.areas:
        offered = {s.tool for s in area.tools}
        assert set(content.pictures.areas[area.id].tools) == offered, area.id


@pytest.mark.parametrize(("area_id", "tool_id"), AREA_TOOLS)
def test_labels_name_the_chosen_tool_and_no_other(content: Content, area_id: str, tool_id: str) -> None:
    picture = content.pictures.areas[area_id].for_tool(tool_id)
    for mark in picture.place:
        assert names(mark.label) == {tool_id}, mark.label
    for kind, mark in picture.marks():
        if kind != "place":
            assert not names(mark.label), mark.label
    # the caption: the picture in words names the chosen tool only
    assert names(describe(content, area_id, tool_id)) == {tool_id}


@pytest.mark.parametrize("area_id", AREA_IDS)
def test_the_fallback_place_marks_name_no_tool(content: Content, area_id: str) -> None:
    picture = content.pictures.areas[area_id]
    assert all(not names(mark.label) for mark in picture.place)
    assert picture.for_tool(None).place == picture.place
    assert picture.for_tool("a_tool_with_no_marks").place == picture.place
    assert not names(describe(content, area_id))


def test_the_audited_captions_name_the_chosen_tool(content: Content) -> None:
    roller = describe(content, "upper_back", "foam_roller")
    assert "roller across here" in roller and "foam roller" in roller and "ball" not in roller
    fingers = describe(content, "upper_back", "fingers")
    assert "fingertips here" in fingers and "ball" not in fingers
    assert "ball" not in describe(content, "glutes", "foam_roller")
    assert "ball here, beside the spine" in describe(content, "upper_back", "ball")


@pytest.mark.parametrize(("area_id", "tool_id"), [*AREA_TOOLS, ("upper_back", None), ("jaw", None)])
def test_every_area_picture_renders(content: Content, area_id: str, tool_id: str | None) -> None:
    data = render_area(content, area_id, tool_id)
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
    words = describe(content, "upper_back", "foam_roller")
    picture = content.pictures.areas["upper_back"].for_tool("foam_roller")
    for mark in (*picture.knots, *picture.place, *picture.avoid):
        assert mark.label in words
    assert "seen from behind" in words
    assert "where to place the foam roller" in words


def test_spec_names_the_area_and_the_tool() -> None:
    assert attachment_spec("upper_back", "foam_roller") == "area:upper_back:foam_roller"
    assert attachment_spec("upper_back") == "area:upper_back"
    assert parse_spec_argument("upper_back:foam_roller") == ("upper_back", "foam_roller")
    assert parse_spec_argument("upper_back") == ("upper_back", None)


def test_cache_key_is_stable_and_changes_with_the_drawing(content: Content) -> None:
    key = cache_key(content, "neck", "fingers")
    assert key.startswith("area:neck:fingers:") and len(key) <= 128
    assert cache_key(load_content(), "neck", "fingers") == key
    bumped = content.model_copy(
        update={"pictures": content.pictures.model_copy(update={"version": content.pictures.version + 1})}
    )
    assert cache_key(bumped, "neck", "fingers") != key
    renamed = content.model_copy(update={"strings": {**content.strings, "pictures.legend_avoid": "Not here"}})
    assert cache_key(renamed, "neck", "fingers") != key
    keys = {cache_key(content, a, t) for a, t in AREA_TOOLS} | {cache_key(content, a) for a in AREA_IDS}
    assert len(keys) == len(AREA_TOOLS) + len(AREA_IDS)  # one file_id per area and tool, never shared
    assert all(len(k) <= 128 for k in keys)  # the media_files column


def test_cache_key_of_a_tool_follows_only_that_tools_marks(content: Content) -> None:
    picture = content.pictures.areas["upper_back"]
    moved = picture.tools["ball"].place[0].model_copy(update={"label": "ball here, moved"})
    changed = picture.model_copy(
        update={
            "tools": {**picture.tools, "ball": picture.tools["ball"].model_copy(update={"place": [moved]})}
        }
    )
    pictures = content.pictures.model_copy(
        update={"areas": {**content.pictures.areas, "upper_back": changed}}
    )
    edited = content.model_copy(update={"pictures": pictures})
    assert cache_key(edited, "upper_back", "ball") != cache_key(content, "upper_back", "ball")
    assert cache_key(edited, "upper_back", "foam_roller") == cache_key(content, "upper_back", "foam_roller")
    assert cache_key(edited, "upper_back") == cache_key(content, "upper_back")


async def test_renderer_draws_once_per_tool_and_rejects_unknown_areas_and_tools(content: Content) -> None:
    render = area_renderer(content)
    first = await render(1, "calves:ball")
    second = await render(2, "calves:ball")
    assert first.kind == "photo" and first.filename == "calves-ball.png"
    assert first.data is second.data and first.cache_key == cache_key(content, "calves", "ball")
    roller = await render(3, "calves:foam_roller")
    assert roller.cache_key == cache_key(content, "calves", "foam_roller") != first.cache_key
    assert roller.data != first.data
    older = await render(4, "calves")  # a row written before pictures had a tool: the neutral picture
    assert older.filename == "calves.png" and older.cache_key == cache_key(content, "calves")
    with pytest.raises(KeyError):
        await render(1, "elbow:ball")
    with pytest.raises(KeyError):
        await render(1, "calves:hammer")


def test_a_mark_outside_its_frame_is_a_content_error(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, broken)
    path = broken / "pictures.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("frame: [28, 0, 72, 56]", "frame: [28, 0, 40, 56]", 1), encoding="utf-8")
    with pytest.raises(ContentError, match=r"pictures\.yaml.*neck"):
        load_content(broken)


def test_a_tool_mark_outside_its_frame_is_a_content_error(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, broken)
    path = broken / "pictures.yaml"
    text = path.read_text(encoding="utf-8")
    moved = "- ellipse: {center: [58.2, 190], radii: [3.6, 14]}"
    assert moved in text
    path.write_text(
        text.replace(moved, "- ellipse: {center: [58.2, 230], radii: [3.6, 14]}"), encoding="utf-8"
    )
    with pytest.raises(ContentError, match=r"pictures\.yaml.*calves.*foam_roller"):
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
    picture = tmp_path / "data" / "pictures" / "hamstrings-foam_roller.png"  # the first tool: the roller
    assert f"saved photo: {picture.resolve()}" in out
    assert Image.open(picture).size == (WIDTH, HEIGHT)
    assert "In the picture (seen from behind)" in out
    assert "where to place the foam roller (roller here: roll along the thigh)" in out
    assert "Traceback" not in done.stderr
