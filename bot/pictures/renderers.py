"""The attachment renderers for pictures: ``area:<id>:<tool>`` (set-up picture) and ``progress`` (chart).

Registered in :func:`bot.runtime.build_core`. Drawing runs in a worker thread so
the event loop keeps serving other people. An area picture is drawn for the
chosen tool (``area:<id>`` without a tool: the tool-neutral picture, as older
rows name it). It never changes for its cache key, which names the area and the
tool, so it is drawn once per process and Telegram's ``file_id`` is reused after
the first upload; a progress chart is drawn fresh every time.
"""

from __future__ import annotations

import asyncio

from bot.attachments import Attachments, Rendered, Renderer
from bot.domain.content import Content
from bot.domain.pictures import parse_spec_argument
from bot.pictures.areas import cache_key, render_area
from bot.pictures.progress import render_progress
from bot.storage.db import Database


def area_renderer(content: Content) -> Renderer:
    """Draws each (area, tool) picture once per process; whoever reaches the set-up step meanwhile
    waits for that drawing."""
    drawn: dict[str, asyncio.Future[bytes]] = {}
    tools = {t.id for t in content.tools}

    async def render(person_id: int, argument: str) -> Rendered:
        area_id, tool_id = parse_spec_argument(argument)
        if area_id not in content.pictures.areas:
            raise KeyError(f"no picture for area {area_id!r}")
        if tool_id is not None and tool_id not in tools:
            raise KeyError(f"no tool {tool_id!r}")
        key = cache_key(content, area_id, tool_id)
        drawing = drawn.get(key)
        if drawing is None:
            drawing = drawn[key] = asyncio.ensure_future(
                asyncio.to_thread(render_area, content, area_id, tool_id)
            )
        try:
            data = await asyncio.shield(drawing)
        except Exception:
            drawn.pop(key, None)  # try again next time
            raise
        filename = f"{area_id}-{tool_id}.png" if tool_id is not None else f"{area_id}.png"
        return Rendered("photo", filename, data, cache_key=key)

    return render


def progress_renderer(db: Database, content: Content) -> Renderer:
    async def render(person_id: int, argument: str) -> Rendered:
        return Rendered("photo", "progress.png", await render_progress(db, content, person_id))

    return render


def register_pictures(attachments: Attachments, content: Content, db: Database) -> None:
    attachments.register("area", area_renderer(content))
    attachments.register("progress", progress_renderer(db, content))
