"""Attachments: rendered at send time, uploaded once to Telegram, then reused by file_id."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from bot.adapters.telegram import TelegramTransport, build_application
from bot.attachments import Attachments, Rendered, UnknownAttachment
from bot.domain.effects import Button, Message
from bot.runtime import build_core
from bot.settings import Settings
from bot.storage.db import Database
from tests.fakebotapi import FakeBotAPI


def tiny_png() -> bytes:
    """A valid 1×1 PNG, made here so the fake API can read its size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


async def test_registry_renders_by_prefix_and_rejects_unknown() -> None:
    attachments = Attachments()

    async def render(person_id: int, argument: str) -> Rendered:
        return Rendered("photo", f"{argument}.png", b"x", cache_key=f"t:{argument}")

    attachments.register("t", render)
    assert (await attachments.render(1, "t:neck")).filename == "neck.png"
    with pytest.raises(UnknownAttachment):
        await attachments.render(1, "nope:x")
    with pytest.raises(ValueError):
        attachments.register("t", render)


async def test_photo_is_uploaded_once_then_sent_by_file_id(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            telegram_bot_token="123456:TEST-TOKEN-not-real",
            telegram_api_url=api.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        )
        db = Database(settings.database_url)
        await db.create_schema()
        core = build_core(settings, db=db)
        app = build_application(settings, core=core)
        async with app:
            transport = TelegramTransport(app, db)
            picture = Rendered("photo", "neck.png", tiny_png(), cache_key="area:neck:v1")
            message = Message("Place your fingertips here.", ((Button("Found it", "k1:1:found"),),))
            await transport.send("42", message, picture)
            await transport.send("43", message, picture)
            fresh = TelegramTransport(app, db)  # a restarted process finds the file id in the database
            await fresh.send("44", message, picture)
            await transport.send("45", Message("x" * 1500), Rendered("document", "d.json", b"{}"))
        await db.dispose()
        photos = api.calls_to("sendPhoto")
        assert len(photos) == 3
        assert "photo" in photos[0].files  # an upload
        assert not photos[1].files and isinstance(photos[1].params["photo"], str)  # a file_id
        assert photos[2].params["photo"] == photos[1].params["photo"]
        assert photos[0].params["caption"] == "Place your fingertips here."
        assert api.calls_to("sendDocument") and api.calls_to("sendMessage")[-1].params["text"] == "x" * 1500


async def test_each_tools_picture_of_an_area_gets_its_own_upload_and_file_id(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            telegram_bot_token="123456:TEST-TOKEN-not-real",
            telegram_api_url=api.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        )
        db = Database(settings.database_url)
        await db.create_schema()
        core = build_core(settings, db=db)
        app = build_application(settings, core=core)
        async with app:
            transport = TelegramTransport(app, db)
            message = Message("Set-up.")
            for chat, spec in enumerate(
                ["area:upper_back:ball", "area:upper_back:foam_roller", "area:upper_back:ball"] * 2
            ):
                await transport.send(str(100 + chat), message, await core.attachments.render(1, spec))
        await db.dispose()
        photos = api.calls_to("sendPhoto")
        assert [bool(p.files) for p in photos] == [True, True, False, False, False, False]
        assert photos[0].files["photo"].filename == "upper_back-ball.png"
        assert photos[1].files["photo"].filename == "upper_back-foam_roller.png"
        ball = {photos[i].params["photo"] for i in (2, 3, 5)}  # the specs were ball, roller, ball × 2
        roller = {photos[4].params["photo"]}
        assert len(ball) == 1 and len(roller) == 1 and ball != roller  # never the ball's file for the roller
