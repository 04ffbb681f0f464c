"""Tests for the fake Telegram Bot API server (tests/fakebotapi.py), driven by a real PTB Application."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

try:
    from tests.fakebotapi import FakeBotAPI, FakeUser, run_polling
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from fakebotapi import FakeBotAPI, FakeUser, run_polling  # type: ignore[no-redef]

TOKEN = "123456:TEST-token"


def _png(width: int, height: int) -> bytes:
    """A valid PNG of the given size (single colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes 👍", callback_data="ans:yes"),
                InlineKeyboardButton("No", callback_data="ans:no"),
            ]
        ]
    )
    await update.effective_message.reply_text("Hello! Ready?", reply_markup=keyboard)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer("noted")
    await context.bot.send_message(query.message.chat.id, f"You chose {query.data}")


def _build(api: FakeBotAPI) -> Application:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(TOKEN).base_url(api.base_url).base_file_url(api.base_file_url).build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_button))
    return app


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server
        server.assert_no_server_errors()


@pytest.fixture
async def app(api: FakeBotAPI) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = _build(api)
    async with run_polling(application):
        yield application


async def _raw_call(api: FakeBotAPI, method: str, **params: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api.base_url}{TOKEN}/{method}", data=data) as resp,
    ):
        return resp.status, await resp.json()


@pytest.mark.asyncio
async def test_start_and_button_conversation(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    ann: FakeUser = api.user(1001, first_name="Ann")
    await ann.send_command("start")
    msg = await ann.wait_for("Ready?")
    assert msg.buttons == ["Yes 👍", "No"]
    assert ann.buttons() == ["Yes 👍", "No"]

    await ann.press("yes")
    await ann.wait_for("You chose ans:yes")
    await ann.wait_idle(quiet=0.1)

    assert ann.transcript().splitlines() == [
        ">> user: /start",
        "<< bot: Hello! Ready? [Yes 👍 | No]",
        ">> user: [pressed 'Yes 👍' -> ans:yes]",
        "<< bot (answer): noted",
        "<< bot: You chose ans:yes",
    ]
    assert ann.last_text == "You chose ans:yes"
    assert [m.message_id for m in ann.messages] == [2, 3]  # message 1 was the user's /start
    assert api.methods()[:2] == ["getMe", "deleteWebhook"]
    assert api.methods()[-3:] == ["sendMessage", "answerCallbackQuery", "sendMessage"]
    send = api.calls_to("sendMessage")[0]
    assert send.params["chat_id"] == 1001
    assert send.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ans:yes"
    assert TOKEN not in repr(api.calls)


@pytest.mark.asyncio
async def test_press_unknown_button_lists_available(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    bob = api.user(1002, first_name="Bob")
    await bob.send_text("/start")
    await bob.wait_for("Ready")
    with pytest.raises(AssertionError, match="Yes 👍"):
        await bob.press("maybe")
    # forged callback data still reaches the bot and is attached to the keyboard message
    await bob.press_data("forged:1")
    reply = await bob.wait_for(lambda m: "forged" in m.text)
    assert reply.text == "You chose forged:1"


@pytest.mark.asyncio
async def test_wait_for_timeout_shows_transcript(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    cy = api.user(1003, first_name="Cy")
    await cy.send_text("/start")
    with pytest.raises(AssertionError, match=r"(?s)never.*>> user: /start"):
        await cy.wait_for("never", timeout=0.3)


@pytest.mark.asyncio
async def test_photo_upload_then_file_id_reuse(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    dee = api.user(1004, first_name="Dee")
    image = _png(1000, 500)
    first = await app.bot.send_photo(
        dee.chat_id, photo=io.BytesIO(image), caption="<b>Pic</b>", parse_mode="HTML"
    )
    assert first.caption == "Pic"
    largest = first.photo[-1]
    assert (largest.width, largest.height) == (1000, 500)
    assert [p.width for p in first.photo] == [90, 320, 800, 1000]
    upload = api.calls_to("sendPhoto")[0]
    assert upload.files["photo"].data == image
    assert api.file_bytes(largest.file_id) == image

    second = await app.bot.send_photo(dee.chat_id, photo=largest.file_id)
    assert second.photo[-1].file_id == largest.file_id
    assert api.calls_to("sendPhoto")[1].params["photo"] == largest.file_id
    assert second.message_id == first.message_id + 1

    third = await app.bot.send_photo(dee.chat_id, photo=io.BytesIO(image))
    assert third.photo[-1].file_id != largest.file_id  # a new upload gets a new file_id

    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await app.bot.send_photo(dee.chat_id, photo="AgACnot-a-real-id")

    tg_file = await app.bot.get_file(largest.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == image
    assert [m.kind for m in dee.messages] == ["photo", "photo", "photo"]
    assert dee.transcript().splitlines()[0] == "<< bot: [photo] Pic"


@pytest.mark.asyncio
async def test_injected_429_raises_retry_after(
    api: FakeBotAPI,
    app: Application,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # opt in to PTB 23 behaviour (no deprecation warning)
    api.user(1005)
    api.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await app.bot.send_message(1005, "hi")
    assert info.value.retry_after == dt.timedelta(seconds=3)
    assert api.rate_limited_count == 1
    await app.bot.send_message(1005, "hi again")  # only the next call failed
    assert [c.ok for c in api.calls_to("sendMessage")] == [False, True]
    assert api.calls_to("sendMessage")[0].error_code == 429


@pytest.mark.asyncio
async def test_enforced_rate_limit(
    api: FakeBotAPI,
    app: Application,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    api.enforce_rate_limit(per_second=30, per_chat_per_second=2)
    await app.bot.send_message(1006, "one")
    await app.bot.send_message(1006, "two")
    with pytest.raises(RetryAfter):
        await app.bot.send_message(1006, "three")
    await app.bot.send_message(1007, "other chat is fine")
    assert api.rate_limited_count == 1
    assert api.user(1006).texts == ["one", "two"]


@pytest.mark.asyncio
async def test_blocked_user_gets_403(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    eve = api.user(1008, first_name="Eve")
    api.block_user(eve.id)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await app.bot.send_message(eve.id, "hello?")
    assert eve.messages == []
    api.unblock_user(eve.id)
    await app.bot.send_message(eve.id, "hello!")
    assert eve.last_text == "hello!"


@pytest.mark.asyncio
async def test_edits_markup_validation_and_errors(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    fay = api.user(1009, first_name="Fay")
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await app.bot.send_message(fay.id, "Step <i>1</i>", parse_mode="HTML", reply_markup=kb)
    assert fay.last_text == "Step 1"
    await fay.send_text("next")  # marks the point wait_for starts from
    await app.bot.edit_message_text("Step 2", chat_id=fay.id, message_id=sent.message_id)
    edited = await fay.wait_for("Step 2", timeout=1)
    assert edited.keyboard == []  # editMessageText without reply_markup drops the keyboard
    assert fay.messages[0].edited
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await app.bot.edit_message_text("Step 2", chat_id=fay.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await app.bot.edit_message_text("x", chat_id=fay.id, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
        await app.bot.send_message(fay.id, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await app.bot.send_message(fay.id, "Done.", parse_mode="MarkdownV2")
    await app.bot.send_message(fay.id, r"*Done*\.", parse_mode="MarkdownV2")
    assert fay.last_text == "Done."
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await app.bot.send_message(fay.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await app.bot.send_message(
            fay.id,
            "kb",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="d" * 65)]]),
        )
    await app.bot.set_my_commands([("start", "Start the bot")])
    assert [c.command for c in await app.bot.get_my_commands()] == ["start"]
    status, body = await _raw_call(api, "noSuchMethod")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


@pytest.mark.asyncio
async def test_get_updates_returns_promptly_and_honours_offset(api: FakeBotAPI) -> None:
    gus = api.user(1010, first_name="Gus")

    async def later() -> None:
        await asyncio.sleep(0.1)
        await gus.send_text("ping")

    task = asyncio.create_task(later())
    started = time.monotonic()
    status, body = await _raw_call(api, "getUpdates", timeout=5)
    elapsed = time.monotonic() - started
    await task
    assert status == 200 and body["ok"]
    assert elapsed < 1.0
    [update] = body["result"]
    assert update["message"]["text"] == "ping"
    first_id = update["update_id"]

    await gus.send_text("/help me")
    _, body = await _raw_call(api, "getUpdates", offset=first_id, timeout=0)
    assert [u["update_id"] for u in body["result"]] == [first_id, first_id + 1]  # not yet confirmed
    entities = body["result"][1]["message"]["entities"]
    assert entities == [{"type": "bot_command", "offset": 0, "length": 5}]

    _, body = await _raw_call(api, "getUpdates", offset=first_id + 2, timeout=0)
    assert body["result"] == []
    assert api.pending_updates == []

    # limit and allowed_updates
    await gus.send_text("a")
    await gus.press_data("cb")
    await gus.send_text("b")
    _, body = await _raw_call(api, "getUpdates", limit=1, timeout=0)
    assert len(body["result"]) == 1
    _, body = await _raw_call(api, "getUpdates", allowed_updates=["callback_query"], timeout=0)
    assert [next(k for k in u if k != "update_id") for u in body["result"]] == ["callback_query"]

    # a long poll with nothing to deliver waits for the timeout
    started = time.monotonic()
    _, body = await _raw_call(api, "getUpdates", offset=body["result"][-1]["update_id"] + 1, timeout=0.3)
    assert body["result"] == [] and 0.25 <= time.monotonic() - started < 2


@pytest.mark.asyncio
async def test_wait_idle_and_media_updates(api: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    hal = api.user(1011, first_name="Hal")
    await hal.send_sticker()
    await hal.send_photo(caption="look")
    await hal.send_voice()
    await hal.send_location(52.5, 13.4)
    await hal.send_update(
        {"edited_message": {"message_id": 1, "date": 0, "chat": hal.chat_dict(), "text": "x"}}
    )
    await hal.wait_idle(quiet=0.1, timeout=3)
    assert api.all_delivered(hal.id)
    assert hal.messages == []  # no handler for these: the bot stays silent
    assert hal.transcript().splitlines()[-1] == ">> user: [edited_message]"


@pytest.mark.asyncio
async def test_restart_redelivers_unconfirmed_and_cancels_orphan_poll(api: FakeBotAPI) -> None:
    ivy = api.user(1012, first_name="Ivy")
    async with run_polling(_build(api), timeout=5):
        await ivy.send_command("start")
        await ivy.wait_for("Ready?")
    # the first app is gone; an update sent now waits for the next bot process
    await ivy.send_command("start")
    await asyncio.sleep(0.1)
    assert not api.all_delivered(ivy.id)
    async with run_polling(_build(api), timeout=5):
        await ivy.wait_for("Ready?")
        await ivy.wait_idle(quiet=0.1)
    assert ivy.texts == ["Hello! Ready?", "Hello! Ready?"]
    polls = api.calls_to("getUpdates")
    assert all(c.ok is not None for c in polls)  # no long poll left hanging
    assert any(c.error_code == 499 for c in polls)  # PTB hung up on its long poll when stopping
