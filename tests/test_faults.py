"""Faults through the fake Bot API: Telegram failing, timing out or unreachable during polling,
replies, scheduled prompts and start-up (in process, and ``knotbot run`` / ``knotbot webhook`` as
subprocesses), a redelivered update, a locked or unavailable database, the admin report and what
the logs may contain."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from telegram.request import HTTPXRequest

import tests.e2e_helpers as e2e_helpers
from bot.adapters.telegram import StartupError, build_application
from bot.domain.effects import message_from_payload
from bot.logging_setup import RedactingFormatter
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Conversation, ProcessedUpdate, ScheduledMessage
from tests.bot_process import BotProcess
from tests.e2e_helpers import free_port, running_bot, to_hold
from tests.fakebotapi import FakeBotAPI

GREETING = "Hi, I'm Knotbot"
HELP = "Here is what I can do"
ABOUT = "What is a muscle knot"
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # shaped like a real token (not one)
READ_TIMEOUT = 2.0  # the bot's read timeout in the timeout tests (PTB's default is 5 s)
SEND_HANG = 4.0  # longer than READ_TIMEOUT: the bot gives up on a sendMessage
POLL_HANG = 5.0  # longer than READ_TIMEOUT + the 1 s long poll: the bot gives up on a getUpdates


async def _count(settings: Settings, model: type) -> int:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await db.dispose()


async def test_polling_survives_5xx_and_429(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    async with running_bot(make_settings()):
        api.fail_next("getUpdates", 502, count=2)
        api.fail_next("getUpdates", 500)
        api.fail_next("getUpdates", 429, retry_after=1)
        ann = api.user(8101, "Ann")
        await ann.send_command("start")
        await ann.wait_for(GREETING, timeout=30)
        await ann.wait_idle()
        assert sum(GREETING in t for t in ann.texts) == 1
        failed = [c.error_code for c in api.calls_to("getUpdates", ok=False)]
        assert {502, 500, 429} <= set(failed)


async def test_replies_survive_5xx_and_429_and_arrive_once(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    async with running_bot(make_settings(dispatch_poll_seconds=0.2)):
        bob = api.user(8202, "Bob")
        api.fail_next("sendMessage", 502)
        await bob.send_command("start")
        await bob.wait_for("Tap Begin", timeout=30)
        api.fail_next("sendMessage", 429, retry_after=1)
        await bob.send_command("about")
        await bob.wait_for("What is a muscle knot", timeout=30)
        await bob.wait_idle()
    assert sum(GREETING in t for t in bob.texts) == 1
    assert sum("What is a muscle knot" in t for t in bob.texts) == 1


async def test_a_redelivered_update_has_no_second_effect(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with running_bot(settings):
        cy = api.user(8303, "Cy")
        update = (await cy.send_command("start")) and cy.sent[-1]
        await cy.wait_for(GREETING)
        await cy.wait_idle()
        await api.queue_update(dict(update))  # Telegram sends the same update_id again
        await cy.send_command("help")
        await cy.wait_for("Here is what I can do")
        await cy.wait_idle()
    assert sum(GREETING in t for t in cy.texts) == 1
    assert await _count(settings, ProcessedUpdate) == 2


async def test_a_briefly_locked_database_is_waited_for(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a SQLite lock held by another connection; PostgreSQL locks per person instead")
    async with running_bot(settings):
        di = api.user(8404, "Di")
        await di.send_command("start")
        await di.wait_for(GREETING)
        await di.wait_idle()
        path = settings.database_url.split("///", 1)[1]
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        await di.send_command("massage")
        await asyncio.sleep(0.5)  # let the bot run into the lock (not a timing assertion)
        blocker.execute("COMMIT")
        blocker.close()
        await di.wait_for("Do any of these apply", timeout=30)
        await di.wait_idle()
    assert sum("Do any of these apply" in t for t in di.texts) == 1


async def test_an_unavailable_database_tells_the_person_and_writes_nothing(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(admin_chat_id=999, telegram_bot_token=TOKEN)
    async with running_bot(settings):
        ed = api.user(850_512_347, "Eddie", username="eddie_secret")  # no port or time contains it
        await ed.send_command("start")
        await ed.wait_for(GREETING)
        await ed.wait_idle()
        updates_before = await _count(settings, ProcessedUpdate)
        state_before = await _conversation(settings)
        original = Database.transaction

        def locked(self: Database) -> Any:
            raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))

        monkeypatch.setattr(Database, "transaction", locked)
        with caplog.at_level(logging.INFO):
            await ed.send_text("my private symptom words")
            await ed.wait_for("Please try that again", timeout=30)
            await ed.wait_idle()
        monkeypatch.setattr(Database, "transaction", original)
        assert await _count(settings, ProcessedUpdate) == updates_before
        assert await _conversation(settings) == state_before
        await ed.send_command("massage")  # the bot keeps working
        await ed.wait_for("Do any of these apply")
        await ed.wait_idle()
    admin = [m.text for m in api.sent_messages(chat_id=999)]
    assert len(admin) == 1 and "update failed" in admin[0] and "OperationalError" in admin[0]
    formatter = RedactingFormatter("%(name)s %(message)s")  # what configure_logging writes
    logs = "\n".join(formatter.format(r) for r in caplog.records) + "\n".join(admin)
    for secret in ("my private symptom words", "Eddie", "eddie_secret", "850512347", TOKEN.split(":")[1]):
        assert secret not in logs, secret
    assert "person=" in logs and "update_id=" in logs


async def _conversation(settings: Settings) -> list[dict[str, Any]]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return [dict(r.state) for r in (await session.execute(select(Conversation))).scalars()]
    finally:
        await db.dispose()


# ---- Telegram timing out or unreachable -----------------------------------------------------------


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """``running_bot`` builds the app with READ_TIMEOUT-second read timeouts, so that a slow answer
    makes the bot give up in seconds rather than PTB's default 5 s (+ the long-poll time)."""

    def build(settings: Settings, **kwargs: Any) -> Any:
        return build_application(
            settings,
            request=HTTPXRequest(connection_pool_size=16, read_timeout=READ_TIMEOUT),
            get_updates_request=HTTPXRequest(read_timeout=READ_TIMEOUT),
            **kwargs,
        )

    monkeypatch.setattr(e2e_helpers, "build_application", build)


async def _until(predicate: Callable[[], object], what: str, timeout: float = 30) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


def _given_up(api: FakeBotAPI, method: str) -> list[Any]:
    """Calls the bot stopped waiting for (the fake records them with 499)."""
    return [c for c in api.calls_to(method) if c.error_code == 499]


def _count_texts(texts: list[str], needle: str) -> int:
    return sum(needle in t for t in texts)


async def test_polling_survives_get_updates_timeouts_and_an_outage(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    short_timeouts: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings()
    async with running_bot(settings) as app:
        ann = api.user(8601, "Ann")
        await ann.send_command("start")
        await ann.wait_for(GREETING, timeout=30)
        await ann.wait_idle()

        # getUpdates answers later than the bot waits: it gives up and asks again, and again
        api.set_latency("getUpdates", POLL_HANG)
        await _until(lambda: _given_up(api, "getUpdates"), "a getUpdates the bot gave up on")
        await ann.send_command("help")
        await _until(lambda: len(_given_up(api, "getUpdates")) >= 2, "a second getUpdates timeout")
        api.set_latency("getUpdates", 0)
        await ann.wait_for(HELP, timeout=30)
        await ann.wait_idle()

        # Telegram down: connections refused (the long poll in flight is cut); a message waits there
        with caplog.at_level(logging.INFO):
            await api.go_down()
            about = (await ann.send_command("about")) and ann.sent[-1]
            await _until(
                lambda: any(r.name.startswith("telegram") and r.exc_info for r in caplog.records),
                "the bot failing to reach Telegram",
            )
            # back up, but the first answer to getUpdates (carrying the waiting update) is lost
            api.hang_next("getUpdates", POLL_HANG, answered=True)
            await api.come_up()
            await ann.wait_for(ABOUT, timeout=30)
            await ann.wait_idle()
        assert app.updater is not None and app.updater.running
    lost = [c for c in _given_up(api, "getUpdates") if c.result]
    assert [u["update_id"] for u in lost[0].result] == [about["update_id"]]
    for needle in (GREETING, HELP, ABOUT):
        assert _count_texts(ann.texts, needle) == 1, (needle, ann.transcript())
    assert await _count(settings, ProcessedUpdate) == 3


async def test_a_reply_whose_send_times_out_is_sent_again(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    short_timeouts: None,
) -> None:
    settings = make_settings(dispatch_poll_seconds=0.2)
    async with running_bot(settings):
        bob = api.user(8602, "Bob")
        await bob.send_command("start")
        await bob.wait_for(GREETING, timeout=30)
        await bob.wait_idle()

        # the request never got through: the bot gives up, the row is retried, it arrives once
        api.hang_next("sendMessage", SEND_HANG)
        await bob.send_command("help")
        await bob.wait_for(HELP, timeout=30)
        await bob.wait_idle()
        stuck = _given_up(api, "sendMessage")
        assert len(stuck) == 1 and stuck[0].result is None

        # Telegram accepted it but its answer came too late: the bot cannot tell this from the
        # case above, so it sends again (at-least-once): this one message arrives twice
        api.hang_next("sendMessage", SEND_HANG, answered=True)
        await bob.send_command("about")
        await _until(lambda: _count_texts(bob.texts, ABOUT) >= 2, "the timed-out reply sent again")
        await bob.wait_idle()
        lost = _given_up(api, "sendMessage")[1:]
        assert len(lost) == 1 and ABOUT in lost[0].result["text"]
    assert _count_texts(bob.texts, GREETING) == 1
    assert _count_texts(bob.texts, HELP) == 1
    assert _count_texts(bob.texts, ABOUT) == 2
    rows = await _rows(settings)
    assert {r.status for r in rows} == {"sent"}
    resent = [r for r in rows if HELP in _text(r) or ABOUT in _text(r)]
    assert len(resent) == 2 and all(r.attempts == 2 for r in resent)  # one row each, sent again


HOLD_PROMPTS = ("Breathe out slowly", "Halfway", "Another slow, long breath out")
HOLD_END = "Release the pressure gradually"
OFFLINE_NOTE = "I was offline for part of your hold"


async def _hold_through_an_outage(
    api: FakeBotAPI,
    settings: Settings,
) -> tuple[list[str], list[ScheduledMessage]]:
    """Start a hold, take Telegram down until every timed message of it due meanwhile failed, bring
    it back, wait until each is settled (sent or dropped), rate the pressure; returns what arrived
    after the hold started, and the hold's rows."""
    async with running_bot(settings):
        cy = api.user(8603, "Cy")
        await to_hold(cy)
        await cy.wait_idle()
        before = len(cy.messages)
        await api.go_down()
        await _until_rows(
            settings,
            lambda rows: all(r.last_error or r.status == "sent" for r in _hold_rows(rows)),
            "every hold row failing (or sent before the outage)",
        )
        await api.come_up()
        await cy.wait_for(HOLD_END, timeout=30)
        await _until_rows(
            settings,
            lambda rows: all(r.status not in ("pending", "claimed") for r in _hold_rows(rows)),
            "every hold row settled",
        )
        await cy.wait_idle()
        await cy.press("Just right")
        await cy.wait_for("How does the knot feel", timeout=30)
        await cy.wait_idle(quiet=1.0)
    return [m.text for m in cy.messages[before:]], _hold_rows(await _rows(settings))


async def test_hold_prompts_due_during_an_outage_are_not_lost_or_doubled(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    # a 30 s hold at time scale 0.1: prompts after 0.75, 1.5 and 2.25 s, the end after 3 s
    settings = make_settings(time_scale=0.1, dispatch_poll_seconds=0.2)
    arrived, rows = await _hold_through_an_outage(api, settings)
    assert len(rows) == 4 and {r.status for r in rows} <= {"sent", "dropped"}, [r.status for r in rows]
    assert sum(HOLD_END in t for t in arrived) == 1, arrived
    for prompt, row in zip(HOLD_PROMPTS, rows, strict=False):
        assert sum(prompt in t for t in arrived) == (row.status == "sent"), (prompt, arrived)
    assert any("How does the knot feel" in t for t in arrived)  # the session went on


async def test_hold_prompts_after_an_outage_keep_their_order_or_are_dropped(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(time_scale=0.1, dispatch_poll_seconds=0.2)
    arrived, rows = await _hold_through_an_outage(api, settings)
    end = next(i for i, t in enumerate(arrived) if HOLD_END in t)
    notes = sum(OFFLINE_NOTE in t for t in arrived[:end])
    # one note per dispatch run that dropped something (best effort: lost if Telegram was still down)
    assert notes <= sum(r.status == "dropped" for r in rows), arrived
    shown = [i for prompt in HOLD_PROMPTS for i, t in enumerate(arrived) if prompt in t]
    assert shown == sorted(shown) and all(i < end for i in shown), arrived  # in order, before the end


def _text(row: ScheduledMessage) -> str:
    return message_from_payload(row.payload).text


def _hold_rows(rows: list[ScheduledMessage]) -> list[ScheduledMessage]:
    """The hold's prompts after "press in now" and its end (the get-ready rows and "press in now"
    went out before the outage: ``to_hold`` waits for it)."""
    return [r for r in rows if r.kind in ("hold_prompt", "hold_end") and not r.key.endswith(":0")]


async def _rows(settings: Settings) -> list[ScheduledMessage]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            query = select(ScheduledMessage).order_by(ScheduledMessage.id)
            return list((await session.execute(query)).scalars())
    finally:
        await db.dispose()


async def _until_rows(
    settings: Settings, predicate: Callable[[list[ScheduledMessage]], bool], what: str
) -> None:
    deadline = time.monotonic() + 30
    while not predicate(await _rows(settings)):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


# ---- start-up while Telegram is unreachable, or rejects the token ----------------------------------


def _start_up_retries(records: list[logging.LogRecord], method: str) -> list[logging.LogRecord]:
    return [r for r in records if "not reachable at start-up" in r.getMessage() and method in r.getMessage()]


async def test_start_up_waits_for_telegram_and_then_serves(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(telegram_bot_token=TOKEN)
    await api.go_down()
    api.fail_next("setMyCommands", 502)
    api.fail_next("setMyCommands", 429, retry_after=1)

    async def come_up_after_a_failed_attempt() -> None:
        await _until(lambda: _start_up_retries(caplog.records, "getMe"), "a getMe retry")
        await api.come_up()

    with caplog.at_level(logging.INFO):
        back = asyncio.create_task(come_up_after_a_failed_attempt())
        async with running_bot(settings):
            await back
            dee = api.user(8604, "Dee")
            await dee.send_command("start")
            await dee.wait_for(GREETING, timeout=30)
            await dee.wait_idle()
            await _until(lambda: api.calls_to("setMyCommands", ok=True), "the menu, in the background")
    retries = _start_up_retries(caplog.records, "getMe") + [
        r for r in caplog.records if "setMyCommands failed" in r.getMessage()
    ]
    messages = [r.getMessage() for r in retries]
    assert any("getMe failed (NetworkError: httpx.ConnectError" in m for m in messages), messages
    assert any("setMyCommands failed (NetworkError: Bad Gateway)" in m for m in messages), messages
    assert any("setMyCommands failed (429 Too Many Requests)" in m for m in messages), messages
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in retries)  # one line each
    assert len(api.calls_to("getMe", ok=True)) == 1 and len(api.calls_to("setMyCommands", ok=True)) == 1
    logs = "\n".join(RedactingFormatter("%(message)s").format(r) for r in caplog.records)
    assert TOKEN.split(":")[1] not in logs


@pytest.mark.parametrize(("code", "description"), [(404, "Not Found"), (500, "Internal Server Error")])
async def test_a_failing_command_menu_never_holds_up_the_start(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    code: int,
    description: str,
) -> None:
    """Only getMe decides whether the token is good: a 404 or a 500 on setMyCommands (a proxy, a bad
    moment) is logged and tried again in the background while the bot already serves."""
    settings = make_settings(telegram_bot_token=TOKEN)
    api.fail_next("setMyCommands", code, description, count=2)
    with caplog.at_level(logging.INFO):
        async with running_bot(settings):
            eve = api.user(8605, "Eve")
            await eve.send_command("start")
            await eve.wait_for(GREETING, timeout=10)  # served before the menu is set
            await _until(lambda: api.calls_to("setMyCommands", ok=True), "the menu, set on a later try")
    failed = [r.getMessage() for r in caplog.records if "setMyCommands failed" in r.getMessage()]
    assert len(failed) == 2 and all("the bot serves on" in m for m in failed), failed
    assert len(api.calls_to("setMyCommands", ok=True)) == 1
    logs = "\n".join(RedactingFormatter("%(message)s").format(r) for r in caplog.records)
    assert TOKEN.split(":")[1] not in logs and "rejected TELEGRAM_BOT_TOKEN" not in logs


@pytest.mark.parametrize(("code", "description"), [(401, "Unauthorized"), (404, "Not Found")])
async def test_a_rejected_token_stops_the_start_at_once(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
    code: int,
    description: str,
) -> None:
    app = build_application(make_settings(telegram_bot_token=TOKEN))
    api.fail_next("getMe", code, description)
    try:
        with pytest.raises(StartupError) as raised:
            await app.initialize()
    finally:
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
    assert "TELEGRAM_BOT_TOKEN" in str(raised.value) and TOKEN.split(":")[1] not in str(raised.value)
    assert len(api.calls_to("getMe")) == 1  # not retried


class Knotbot(BotProcess):
    """``python -m bot <command>`` (the bot process of tests/bot_process.py, given a command line)."""

    def __init__(self, api: FakeBotAPI, workdir: Path, *args: str, **env: str) -> None:
        super().__init__(api, workdir, **env)
        self.args = args

    async def start(self) -> None:
        self.runs += 1
        with open(self.workdir / f"bot-{self.runs}.log", "wb") as log:  # noqa: ASYNC230
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
            )

    async def exit_code(self, timeout: float = 60) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def assert_clean_logs(self) -> None:
        logs = self.logs()
        assert "Traceback" not in logs, logs
        assert self.env["TELEGRAM_BOT_TOKEN"].split(":")[1] not in logs


def _webhook_env() -> dict[str, str]:
    port = free_port()
    return {
        "KNOTBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "KNOTBOT_WEBHOOK_SECRET": "s3cret-Webhook_token",
        "KNOTBOT_LISTEN_HOST": "127.0.0.1",
        "KNOTBOT_LISTEN_PORT": str(port),
    }


async def test_knotbot_run_waits_for_telegram_and_polls_through_an_outage(
    api: FakeBotAPI,
    tmp_path: Path,
) -> None:
    bot = Knotbot(api, tmp_path, "run")
    await api.go_down()
    try:
        await bot.start()
        await _until(lambda: "getMe failed" in bot.logs(), "a getMe retry in the log", timeout=60)
        await api.come_up()
        eve = api.user(8605, "Eve")
        await eve.send_command("start")
        await eve.wait_for(GREETING, timeout=60)
        await eve.wait_idle()
        await api.go_down()  # while polling: every getUpdates fails for a while
        await eve.send_command("help")
        await _until(lambda: "getUpdates failed" in bot.logs(), "a failed getUpdates in the log", timeout=60)
        await api.come_up()
        await eve.wait_for(HELP, timeout=60)
        await eve.wait_idle()
    finally:
        await bot.stop()
    assert _count_texts(eve.texts, GREETING) == 1 and _count_texts(eve.texts, HELP) == 1
    assert "Telegram not reachable at start-up: getMe failed (NetworkError: " in bot.logs()
    bot.assert_clean_logs()


async def test_knotbot_webhook_waits_for_telegram_at_start(
    api: FakeBotAPI,
    tmp_path: Path,
) -> None:
    env = _webhook_env()
    bot = Knotbot(api, tmp_path, "webhook", **env)
    await api.go_down()
    try:
        await bot.start()
        await _until(lambda: "getMe failed" in bot.logs(), "a getMe retry in the log", timeout=60)
        api.fail_next("setWebhook", 502)
        await api.come_up()
        await _until(lambda: api.calls_to("setWebhook", ok=True), "setWebhook", timeout=60)
        api.start_webhook_delivery()
        fay = api.user(8606, "Fay")
        await fay.send_command("start")
        await fay.wait_for(GREETING, timeout=60)
        await fay.wait_idle()
        port = env["KNOTBOT_LISTEN_PORT"]
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200
    finally:
        await bot.stop()
    assert _count_texts(fay.texts, GREETING) == 1
    assert "setWebhook failed (NetworkError: Bad Gateway), attempt 1" in bot.logs()
    bot.assert_clean_logs()


@pytest.mark.parametrize("command", ["run", "webhook"])
async def test_knotbot_exits_with_one_line_when_telegram_rejects_the_token(
    api: FakeBotAPI,
    tmp_path: Path,
    command: str,
) -> None:
    bot = Knotbot(api, tmp_path, command, **_webhook_env())
    api.fail_next("getMe", 401, "Unauthorized")
    try:
        await bot.start()
        code = await bot.exit_code()
    finally:
        await bot.stop()
    errors = [line for line in bot.logs().splitlines() if "TELEGRAM_BOT_TOKEN" in line]
    assert code == 2, bot.logs()
    assert errors == [
        "knotbot: Telegram rejected TELEGRAM_BOT_TOKEN (getMe answered Unauthorized or Not Found); "
        "check the token and TELEGRAM_API_URL"
    ]
    assert len(api.calls_to("getMe")) == 1
    bot.assert_clean_logs()


@pytest.mark.parametrize("command", ["run", "webhook"])
async def test_knotbot_exits_with_one_line_when_the_metrics_port_is_taken(
    api: FakeBotAPI,
    tmp_path: Path,
    command: str,
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = Knotbot(api, tmp_path, command, KNOTBOT_METRICS_PORT=str(port), **_webhook_env())
        try:
            await bot.start()
            code = await bot.exit_code()
        finally:
            await bot.stop()
    errors = [line for line in bot.logs().splitlines() if line.startswith("knotbot: ")]
    assert code == 2, bot.logs()
    assert len(errors) == 1 and "KNOTBOT_METRICS_PORT" in errors[0] and str(port) in errors[0], bot.logs()
    assert not api.calls_to("setWebhook")  # Telegram is not pointed at a bot that cannot start
    bot.assert_clean_logs()
