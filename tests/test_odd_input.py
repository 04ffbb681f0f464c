"""Odd input, table-driven, through the fake Bot API: every row gets a short sensible answer or is
ignored on purpose, and the session is unharmed (same step, same question, buttons still work).

Also: group, supergroup and channel chats get one "private chats only" note, remembered across
restarts, and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Conversation, GroupChat, Person
from tests.e2e_helpers import begin, running_bot, telegram_bot
from tests.fakebotapi import FakeBotAPI, FakeUser

QUESTION = "Where is the knot?"


IGNORED = None  # expect no answer at all


@dataclass(frozen=True)
class Row:
    name: str
    send: Callable[[FakeUser, dict[str, Any]], Awaitable[object]]
    answer: str | None  # a substring of the answer, or IGNORED
    toast: str | None = None  # a substring of the callback answer, if a button was pressed


def _raw_message(user: FakeUser, content: dict[str, Any]) -> Awaitable[object]:
    return user._send_message_update(content, f">> user: [{next(iter(content))}]")


def _other_persons_button(user: FakeUser, ctx: dict[str, Any]) -> Awaitable[object]:
    """Bea's own button data, pressed by this person in their own chat."""
    return user.press_data(ctx["other_data"])


def _other_persons_message(user: FakeUser, ctx: dict[str, Any]) -> Awaitable[object]:
    """A callback claiming to come from a message in Bea's chat (not possible in real Telegram)."""
    return user._press(ctx["other_message"], ctx["other_data"], None)


ROWS = [
    Row("long text (4096 chars)", lambda u, c: u.send_text(("knot " * 820)[:4096]), "couldn't match"),
    Row("emoji only", lambda u, c: u.send_text("💪🔥😩"), "couldn't match"),
    Row("zero-width only", lambda u, c: u.send_text("\u200b\u200c\u2060\ufeff"), "looked empty"),
    Row("right-to-left text", lambda u, c: u.send_text("\u202bظهري يؤلمني\u202c"), "couldn't match"),
    Row("sticker", lambda u, c: u.send_sticker(), "only read text"),
    Row("photo", lambda u, c: u.send_photo(), "only read text"),
    Row("photo with a caption", lambda u, c: u.send_photo(caption="my neck"), "only read text"),
    Row("voice", lambda u, c: u.send_voice(), "only read text"),
    Row(
        "video note",
        lambda u, c: _raw_message(
            u, {"video_note": {"file_id": "vn1", "file_unique_id": "vnu1", "length": 240, "duration": 3}}
        ),
        "only read text",
    ),
    Row("document", lambda u, c: u.send_document(), "only read text"),
    Row("location where none is asked", lambda u, c: u.send_location(52.5, 13.4), "didn't keep it"),
    Row(
        "contact",
        lambda u, c: _raw_message(u, {"contact": {"phone_number": "+15550100", "first_name": "Zed"}}),
        "only read text",
    ),
    Row(
        "poll",
        lambda u, c: _raw_message(
            u,
            {
                "poll": {
                    "id": "p1",
                    "question": "Which?",
                    "options": [
                        {"persistent_id": "o1", "text": "a", "voter_count": 0},
                        {"persistent_id": "o2", "text": "b", "voter_count": 0},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
        ),
        "only read text",
    ),
    Row(
        "edited message",
        lambda u, c: u.send_update(
            {
                "edited_message": {
                    "message_id": 1,
                    "from": u.user_dict(),
                    "chat": u.chat_dict(),
                    "date": int(time.time()) - 5,
                    "edit_date": int(time.time()),
                    "text": "my neck, I meant",
                }
            }
        ),
        IGNORED,
    ),
    Row("unknown command", lambda u, c: u.send_command("frobnicate"), "don't know the command"),
    Row("very long unknown command", lambda u, c: u.send_command("x" * 4000), "don't know the command"),
    Row(
        "random bytes as callback data",
        lambda u, c: u.press_data("\x00\xff\ufffdk1::"),
        "earlier message",
        "no longer active",
    ),
    Row("callback data of another person", _other_persons_button, "earlier message", "no longer active"),
    Row("a callback on another person's message", _other_persons_message, IGNORED),
    Row(
        "an old session's button",
        lambda u, c: u.press_data(c["old_data"]),
        "earlier message",
        "no longer active",
    ),
    Row(
        "a forged privacy button", lambda u, c: u.press_data("k1:1:priv:delete"), IGNORED, "no longer active"
    ),
]


async def _step(settings: Settings, user_id: int) -> tuple[str, int]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            person = (
                await session.execute(select(Person).where(Person.external_id == str(user_id)))
            ).scalar_one()
            row = await session.get(Conversation, person.id)
            assert row is not None
            return str(row.state["step"]), int(row.state["prompt"])
    finally:
        await db.dispose()


async def test_every_odd_input_is_answered_or_ignored_and_the_session_is_unharmed(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with running_bot(settings) as app:
        assert telegram_bot(app).flood is None  # make_settings lifts it: tests tap faster than people
        bea = api.user(4242, "Bea")
        await bea.send_command("start")
        await bea.wait_for("Tap Begin")
        bea_msg = next(m for m in reversed(bea.messages) if m.keyboard)
        other_data = bea_msg.keyboard[0][0]["callback_data"]

        ole = api.user(4343, "Ole")
        await begin(ole)  # session 1: the Begin button is now an old session's button
        old_data = next(m for m in ole.messages if "Tap Begin" in m.text).keyboard[0][0]["callback_data"]
        await ole.press("None of these")
        await ole.wait_for(QUESTION)
        await ole.wait_idle()
        ctx = {"other_data": other_data, "other_message": bea_msg, "old_data": old_data}
        before = await _step(settings, ole.id)
        assert before[0] == "area"

        for row in ROWS:
            seen = len(ole.messages)
            answers = len(ole.callback_answers)
            await row.send(ole, ctx)
            if row.answer is IGNORED:
                await ole.wait_idle()
                assert len(ole.messages) == seen, f"{row.name}: expected no answer"
            else:
                await ole.wait_for(row.answer)
                await ole.wait_for(QUESTION)  # the current question again
                await ole.wait_idle()
                new = ole.messages[seen:]
                assert len(new) <= 3, f"{row.name}: a short answer, not {len(new)} messages"
                assert all(len(m.text) < 1200 for m in new), row.name
            if row.toast is not None:
                texts = [a.get("text") or "" for a in ole.callback_answers[answers:]]
                assert any(row.toast in t for t in texts), f"{row.name}: {texts}"
            # same step and same question: the buttons on screen still work
            assert await _step(settings, ole.id) == before, f"{row.name}: the state moved on"

        # the session goes on from where it was; a double tap counts once
        await ole.press("Neck")
        await ole.press("Neck")
        await ole.wait_for("find the exact spot")
        await ole.wait_idle()
        assert ole.texts.count(next(t for t in ole.texts if "find the exact spot" in t)) == 1
        assert any("Already noted" in (a.get("text") or "") for a in ole.callback_answers)
        assert (await _step(settings, ole.id))[0] == "locate"
        # Bea was never touched by any of it
        assert (await _step(settings, bea.id))[0] == "idle"
        assert not [m for m in bea.messages if "Where is the knot" in m.text]
    api.assert_no_server_errors()


@pytest.mark.parametrize(
    ("kind", "chat"),
    [
        ("group", {"id": -4001, "type": "group", "title": "Knot friends"}),
        ("supergroup", {"id": -1004002, "type": "supergroup", "title": "Knot club"}),
        ("channel", {"id": -1004003, "type": "channel", "title": "Knot news"}),
    ],
)
async def test_groups_get_one_note_across_restarts_and_channels_none(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    kind: str,
    chat: dict[str, Any],
) -> None:
    settings = make_settings()
    user = api.user(4444, "Gil")

    async def post(text: str) -> None:
        message: dict[str, Any] = {
            "message_id": int(time.time() * 1000) % 10**6,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if kind == "channel":
            await user.send_update({"channel_post": message})
        else:
            await user.send_update({"message": {**message, "from": user.user_dict()}})

    for _restart in range(2):
        async with running_bot(settings):
            for text in ("/start", "/massage", "my neck hurts"):
                await post(text)
            await user.wait_idle()
    sent = api.sent_messages(chat_id=chat["id"])
    note = (
        "Hi! I only work in private chats, because self-massage guidance is personal. "
        "Tap my name and send me /start there."
    )
    # a channel gets nothing at all: the bot never posts into one (its note would be a public post)
    assert [m.text for m in sent] == ([] if kind == "channel" else [note])
    db = Database(settings.database_url)
    async with db.transaction() as session:
        people = (await session.execute(select(Person))).scalars().all()
        groups = (await session.execute(select(GroupChat))).scalars().all()
    await db.dispose()
    assert people == [], "nothing is stored about anyone in a group"
    assert [g.chat_id for g in groups] == ([] if kind == "channel" else [str(chat["id"])])
