"""Security and privacy hardening (docs/security.md), end to end over the fake Bot API.

A malicious client forging button data, a noisy neighbour with a pile of due messages, an
operator reading DEBUG logs, sends that fail in odd ways, channels: each promise of
docs/security.md that is about an update or a request is tested here, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters import telegram as telegram_adapter
from bot.logging_setup import PINNED_LOGGERS, configure_logging
from bot.service import to_datetime
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import CheckinAnswer, ScheduledMessage
from bot.storage.repositories import People, Schedule
from tests.e2e_helpers import running_bot, telegram_bot, to_hold
from tests.fakebotapi import FakeBotAPI, FakeUser


async def scalar(settings: Settings, query: Any) -> Any:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return (await session.execute(query)).scalar_one()
    finally:
        await db.dispose()


def toasts(api: FakeBotAPI) -> list[str | None]:
    return [call.params.get("text") for call in api.calls_to("answerCallbackQuery")]


async def test_forged_check_answers_get_the_stale_toast_and_change_nothing(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    """The issue's attack: 40 presses shaped like next-day-check answers, for sessions and areas the
    bot never asked about. Each gets "no longer active"; no answer is recorded, nothing scheduled."""
    settings = make_settings()
    async with running_bot(settings):
        eve = api.user(4101, "Eve")
        await eve.send_command("help")
        await eve.wait_for("/massage")
        for i in range(40):
            await eve.press_data(f"k1:0:fu.chk:{i}:upper_back:0:same")
        await eve.wait_idle()
        assert toasts(api) == ["That button is no longer active."] * 40
        await eve.send_command("help")  # still served as before
        await eve.wait_for("/massage")
    assert await scalar(settings, select(func.count()).select_from(CheckinAnswer)) == 0
    planned = select(func.count()).select_from(ScheduledMessage).where(ScheduledMessage.kind != "reply")
    assert await scalar(settings, planned) == 0
    api.assert_no_server_errors()


BACKLOG = 300


async def add_backlog(settings: Settings, user: FakeUser, n: int) -> None:
    """``n`` messages for ``user`` all due now (a forged pile, or a backlog after an outage)."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            person = await People(session).get_or_create("telegram", str(user.id), str(user.id))
            schedule = Schedule(session)
            now = to_datetime(time.time())
            for i in range(n):
                await schedule.add(person.id, f"backlog:{i}", "reply", now, {"text": f"backlog {i:03d}"})
    finally:
        await db.dispose()


async def test_a_chat_with_hundreds_of_due_messages_does_not_delay_another_persons_hold(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    """One chat has 300 messages due at once; Telegram's pacing lets it have one a second. The
    dispatcher sends them at that pace without waiting on them: another person's hold prompts
    arrive, none dropped as late, in order, while the pile is still going out in its own order."""
    # a burst that Ann's quick taps fit in (a simulated person taps far faster than a real one);
    # the pile is far beyond it. Prompts are dropped when 2 s late
    settings = make_settings(chat_burst=20, time_scale=0.2)
    async with running_bot(settings):
        noisy, ann = api.user(4201, "Noisy"), api.user(4202, "Ann")
        await noisy.send_command("help")
        await noisy.wait_for("/massage")
        await add_backlog(settings, noisy, BACKLOG)
        await noisy.wait_for("backlog 000", since=0)
        await asyncio.sleep(1.5)  # the pile is now paced at one a second
        await to_hold(ann)
        end = await ann.wait_for("Release the pressure gradually", timeout=20)
        assert "How was the pressure?" in end.text
        await asyncio.sleep(0.5)
        backlog_seen = [t for t in noisy.texts if t.startswith("backlog")]
    hold = [t for t in ann.texts[ann.texts.index(next(t for t in ann.texts if "Press in now" in t)) :]]
    assert not any("offline" in t.lower() or "missed" in t.lower() for t in ann.texts), ann.transcript()
    assert len(hold) >= 5, hold  # press in, the timed prompts, the end of the hold
    assert hold[-1] == end.text
    assert backlog_seen == [f"backlog {i:03d}" for i in range(len(backlog_seen))], "the pile keeps its order"
    assert 20 <= len(backlog_seen) < BACKLOG, len(backlog_seen)
    dropped = select(func.count()).select_from(ScheduledMessage).where(ScheduledMessage.status == "dropped")
    assert await scalar(settings, dropped) == 0
    api.assert_no_server_errors()


SECRET_ID = 738291046  # no port, timestamp or row id contains these digits
FIRST, LAST, HANDLE = "Zanzibarqux", "Quillfeather", "zq_secret_handle"
TYPED = "quizzaciously sore wibble"


@pytest.fixture
def debug_logs() -> Iterator[Callable[[], str]]:
    """The bot's own logging at KNOTBOT_LOG_LEVEL=DEBUG, as an operator would switch it on (its
    handler, filters and format, writing to a buffer); yields what was written so far."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in (*PINNED_LOGGERS, "telegram")}
    configure_logging("DEBUG")
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written.getvalue
    finally:
        root.handlers[:], root.level = saved
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_debug_logs_hold_nothing_personal_and_a_broken_update_is_skipped_once(
    api: FakeBotAPI, make_settings: Callable[..., Settings], debug_logs: Callable[[], str]
) -> None:
    """A whole session and an update PTB cannot parse (a ``poll_answer`` without the field Bot API
    9.6 made required), at DEBUG: no text, name, id or token in any line; the broken update is one
    line (its id and type) and polling goes on at its pace instead of fetching it again and again."""
    settings = make_settings(log_level="DEBUG")
    token = settings.telegram_bot_token
    assert token is not None
    async with running_bot(settings):
        zed = api.user(SECRET_ID, FIRST, last_name=LAST, username=HANDLE)
        await to_hold(zed)
        await zed.wait_for("Release the pressure gradually", timeout=10)
        await zed.press("Just right")
        await zed.wait_for("How does the knot feel")
        await zed.send_text(TYPED)
        await zed.wait_for("How does the knot feel")
        await zed.send_command("frobnicatexyz")
        await zed.wait_for("frobnicatexyz")
        await zed.press("Softer")
        await zed.wait_for("What next?")
        await zed.press("Finish")
        await zed.wait_for("check in later")
        await zed.press("Yes, check in")
        await zed.wait_for("time zone")
        await zed.send_text("Reykjavik")
        await zed.wait_for("Your time zone is Atlantic/Reykjavik")
        await zed.press_data("k1:0:fu.chk:1:upper_back:0:same")  # forged
        polls_before = len(api.calls_to("getUpdates"))
        broken = await zed.send_update(
            {"poll_answer": {"poll_id": "p1", "user": zed.user_dict(), "option_ids": [0]}}
        )
        await zed.send_command("help")  # the update after the broken one is served
        await zed.wait_for("/massage")
        await asyncio.sleep(1.0)
        polls = len(api.calls_to("getUpdates")) - polls_before
    logs = debug_logs()
    assert logging.getLogger().level == logging.DEBUG, "the test must really run at DEBUG"
    assert "level=INFO logger=telegram.ext.Application Application started" in logs
    secrets = [
        str(SECRET_ID),
        FIRST,
        LAST,
        HANDLE,
        TYPED,
        "quizzaciously",
        "Reykjavik",
        token.get_secret_value(),
    ]
    secrets.append(token.get_secret_value().split(":", 1)[1])
    leaks = [s for s in secrets if s in logs]
    assert not leaks, [line for line in logs.splitlines() if any(s in line for s in leaks)][:5]
    skipped = [line for line in logs.splitlines() if "cannot parse" in line]
    assert len(skipped) == 1, skipped
    assert f"update_id={broken['update_id']} type=poll_answer error=TypeError" in skipped[0]
    assert "Received data" not in logs and "CRITICAL" not in logs
    assert polls < 10, f"{polls} getUpdates calls in a few seconds: polling spins on the broken update"


async def test_a_send_that_fails_in_an_unexpected_way_is_retried_and_the_rest_go_on(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    """The first reply of /start gets an answer PTB cannot read (not a Telegram error): that row is
    tried again with backoff, the second reply goes on right behind it (in order), and the person
    is not told to try again (their update committed)."""
    settings = make_settings()
    async with running_bot(settings):
        ann = api.user(4301, "Ann")
        api.garble_next("sendMessage")
        await ann.send_command("start")
        await ann.wait_for("Tap Begin")
        await ann.wait_for("Hi, I'm Knotbot", timeout=10, since=0)  # the first one, on its next try
        await ann.wait_idle()
    assert [t.split("\n", 1)[0][:15] for t in ann.texts] == ["Hi, I'm Knotbot", "Tap Begin to st"]
    assert not any("try that again" in t for t in ann.texts)
    rows = select(ScheduledMessage.status, ScheduledMessage.attempts).order_by(ScheduledMessage.id)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            (first, first_tries), (second, _) = (await session.execute(rows)).all()
            assert (first, second) == ("sent", "sent") and first_tries == 2
    finally:
        await db.dispose()


async def test_a_200_answer_that_cannot_be_read_counts_as_sent(
    api: FakeBotAPI, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram took the greeting but a proxy mangled its 200 answer: the greeting is sent once (not
    again on a retry), the next reply follows, nobody is told to try again, and one line is logged."""
    settings = make_settings()
    with caplog.at_level(logging.INFO):
        async with running_bot(settings):
            ann = api.user(4302, "Ann")
            api.unreadable_next("sendMessage")
            await ann.send_command("start")
            await ann.wait_for("Tap Begin")
            await asyncio.sleep(2.5)  # longer than the first retry's backoff
            await ann.wait_idle()
    assert [t.split("\n", 1)[0][:15] for t in ann.texts] == ["Hi, I'm Knotbot", "Tap Begin to st"]
    assert not any("try that again" in t for t in ann.texts)
    unreadable = [r for r in caplog.records if "could not be read; counted as sent" in r.getMessage()]
    assert len(unreadable) == 1 and unreadable[0].exc_info is None
    rows = select(ScheduledMessage.status, ScheduledMessage.attempts).order_by(ScheduledMessage.id)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            assert (await session.execute(rows)).all() == [("sent", 1), ("sent", 1)]
    finally:
        await db.dispose()


async def test_group_bookkeeping_in_memory_is_bounded_and_each_group_still_gets_one_note(
    api: FakeBotAPI, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_adapter, "GROUPS_KEPT", 2)
    settings = make_settings()
    gil = api.user(4401, "Gil")
    async with running_bot(settings) as app:
        for _round in range(2):
            for group in range(5):
                chat = {"id": -4500 - group, "type": "group", "title": "Knot friends"}
                await gil.send_update(
                    {
                        "message": {
                            "message_id": 1,
                            "chat": chat,
                            "date": int(time.time()),
                            "text": "hi",
                            "from": gil.user_dict(),
                        }
                    }
                )
        await gil.wait_idle()
        assert len(telegram_bot(app)._groups_seen) == 2
    for group in range(5):
        assert len(api.sent_messages(chat_id=-4500 - group)) == 1, "the table still says each was told"


async def test_replies_waiting_for_their_chats_pacing_do_not_hold_up_other_peoples_updates(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    """Polling handles one update at a time. One person's quick commands need more replies than
    their chat's burst; the replies past it go to the dispatcher at their chat's pace (in order)
    instead of being waited for, so another person's update, fetched behind them, is answered
    before the first person's last reply."""
    settings = make_settings(chat_burst=2)
    commands = ("about", "privacy", "help")  # 2, 1 and 2 replies
    async with running_bot(settings):
        kim, bo = api.user(4601, "Kim"), api.user(4602, "Bo")
        await kim.send_command("help")  # the burst is used up by the end of these
        await kim.wait_for("/massage")
        for command in commands:
            await kim.send_command(command)
        await bo.send_command("about")
        await bo.wait_for("knot")
        await kim.wait_idle(quiet=1.5, timeout=20)  # the rest of Kim's replies, at her chat's pace
    sent = api.calls_to("sendMessage", ok=True)  # in the order Telegram got them
    kims = [i for i, c in enumerate(sent) if c.params["chat_id"] == kim.id]
    bos = [i for i, c in enumerate(sent) if c.params["chat_id"] == bo.id]
    assert len(kims) == 7, [c.params["text"][:20] for c in sent]
    assert bos and bos[0] < kims[-1], "Bo was not held up behind Kim's paced replies"
    texts = [c.params["text"] for c in sent if c.params["chat_id"] == kim.id]
    assert texts[-2:] == texts[:2], "Kim's replies keep the order of her commands (help ... help)"
    assert texts[2].startswith("What is a muscle knot"), texts
    assert texts[4].startswith("What I keep about you"), texts
