"""Webhook mode in-process: uvicorn serving the real Starlette app, the fake Bot API POSTing updates.

Checks the contract of ``knotbot webhook``: setWebhook on start (URL, secret,
allowed updates, optional drop of pending updates), the secret header (missing
or wrong: 403 and nothing processed), ``/healthz``, and a conversation that
runs through webhook deliveries on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import uvicorn
from sqlalchemy import func, select

from bot.adapters.webhook import REFUSED_LOG_SECONDS, SECRET_HEADER, GuardedH11, WebhookServer, uvicorn_config
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import ProcessedUpdate
from tests.e2e_helpers import free_port
from tests.fakebotapi import FakeBotAPI

SECRET = "s3cret-Webhook_token"
PATH = "/telegram/hook-7d1c"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[WebhookServer]:
    """Run the webhook app under uvicorn on 127.0.0.1 until the block ends."""
    server = WebhookServer(settings)
    uv = uvicorn.Server(uvicorn_config(server, settings, host="127.0.0.1", timeout_graceful_shutdown=None))
    task = asyncio.create_task(uv.serve())
    async with asyncio.timeout(20):
        while not uv.started:
            if task.done():
                task.result()
                raise AssertionError("uvicorn stopped during start-up")
            await asyncio.sleep(0.02)
    try:
        yield server
    finally:
        uv.should_exit = True
        await task


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def make_settings(api: FakeBotAPI, database: Database) -> Callable[..., Settings]:
    """Settings for one replica on the test's database (already at the newest migration)."""
    database_url = database.url.render_as_string(hide_password=False)

    def make(**overrides: Any) -> Settings:
        port = free_port()
        values: dict[str, Any] = {
            "telegram_bot_token": "123456:TEST-TOKEN-not-real",
            "telegram_api_url": api.base_url,
            "database_url": database_url,
            "time_scale": 0.01,
            "dispatch_poll_seconds": 0.5,
            "webhook_url": f"http://127.0.0.1:{port}{PATH}",
            "webhook_secret": SECRET,
            "listen_host": "127.0.0.1",
            "listen_port": port,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Eve"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "Eve"},
            "date": 1_800_000_000,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def _processed(url: str) -> int:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return int(
                (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one()
            )
    finally:
        await db.dispose()


async def test_missing_or_wrong_secret_is_refused_and_nothing_processed(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    url = settings.webhook_url
    assert url is not None
    async with serving(settings), aiohttp.ClientSession() as http:
        body = json.dumps(_update(900, 4242, "/start"))
        for headers in (
            {},
            {SECRET_HEADER: "wrong"},
            {SECRET_HEADER: ""},
            {SECRET_HEADER: SECRET + "x"},
            {SECRET_HEADER.lower(): SECRET[:-1]},
        ):
            async with http.post(
                url, data=body, headers={"Content-Type": "application/json", **headers}
            ) as r:
                assert r.status == 403, headers
        async with http.get(url) as r:  # only POST is routed
            assert r.status == 405
        await asyncio.sleep(0.3)
        assert api.calls_to("sendMessage") == []
        assert await _processed(settings.database_url) == 0
        # the right secret is accepted and processed before the answer comes back
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        async with http.post(url, data=body, headers=headers) as r:
            assert r.status == 200
        assert await _processed(settings.database_url) == 1
        assert [c.params["chat_id"] for c in api.calls_to("sendMessage")][:1] == [4242]
        async with http.post(url, data="not json", headers=headers) as r:
            assert r.status == 400


async def test_set_webhook_on_start_and_healthz(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    ann = api.user(1001, "Ann")
    await ann.send_command("start")  # queued while the bot was down; dropped on request
    settings = make_settings(webhook_drop_pending=True)
    async with serving(settings), aiohttp.ClientSession() as http:
        call = api.calls_to("setWebhook")[-1]
        assert call.params["url"] == settings.webhook_url
        assert call.params["secret_token"] == SECRET
        assert set(call.params["allowed_updates"]) >= {"message", "callback_query", "my_chat_member"}
        assert call.params["drop_pending_updates"] is True
        assert api.pending_updates == []
        assert api.webhook_secret == SECRET
        async with http.get(f"http://127.0.0.1:{settings.listen_port}/healthz") as r:
            assert r.status == 200
            assert (await r.json())["status"] == "ok"
    assert "TEST-TOKEN" not in json.dumps([c.params for c in api.calls])


async def test_a_session_runs_over_webhook_deliveries(
    api: FakeBotAPI, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    async with serving(settings):
        api.start_webhook_delivery()
        bo = api.user(2002, "Bo")
        await bo.send_command("start")
        await bo.wait_for("Tap Begin")
        await bo.press("Begin")
        await bo.wait_for("Do any of these apply")
        await bo.press("None of these")
        await bo.wait_for("Where is the knot?")
        await bo.send_text("my traps are killing me")
        await bo.wait_for("Got it: Upper shoulders")
        await bo.wait_idle()
    assert api.webhook_deliveries and all(d.ok for d in api.webhook_deliveries)
    assert {d.target for d in api.webhook_deliveries} == {settings.webhook_url}
    api.assert_no_server_errors()


async def test_big_bodies_odd_json_and_unparsable_updates_get_clear_answers(
    api: FakeBotAPI, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """Over 1 MB: 413 before the rest is read (declared or streamed); JSON that is not an update
    object: 400, no traceback; an update PTB cannot parse: 200 (Telegram would only resend it) and
    one line with its id and type. None of them is processed."""
    settings = make_settings()
    url = settings.webhook_url
    assert url is not None
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(40):
            yield b" " * 64_000

    broken = {
        "update_id": 77,
        "poll_answer": {"poll_id": "p", "user": {"id": 5, "is_bot": False, "first_name": "Z"}},
    }
    with caplog.at_level(logging.INFO):
        async with serving(settings), aiohttp.ClientSession() as http:
            async with http.post(url, data=b" " * 1_000_001, headers=headers) as r:
                assert r.status == 413
            async with http.post(url, data=chunked(), headers=headers) as r:
                assert r.status == 413
            for body in (
                "[1, 2]",
                '"text"',
                "3",
                "null",
                '{"no": "update_id"}',
                '{"update_id": "7"}',
                "\xff",
            ):
                async with http.post(url, data=body.encode("latin-1"), headers=headers) as r:
                    assert r.status == 400, body
            async with http.post(url, data=json.dumps(broken), headers=headers) as r:
                assert r.status == 200
    assert await _processed(settings.database_url) == 0
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    skipped = [r.getMessage() for r in caplog.records if "cannot parse" in r.getMessage()]
    assert skipped == [
        "skipped an update python-telegram-bot cannot parse update_id=77 type=poll_answer error=TypeError"
    ]


async def test_wrong_secrets_are_one_counted_line_per_interval(
    api: FakeBotAPI, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    url = settings.webhook_url
    assert url is not None
    with caplog.at_level(logging.INFO):
        async with serving(settings) as server, aiohttp.ClientSession() as http:
            for _ in range(20):
                async with http.post(url, data="{}", headers={SECRET_HEADER: "guess"}) as r:
                    assert r.status == 403
            lines = [r.getMessage() for r in caplog.records if "wrong or missing secret" in r.getMessage()]
            assert lines == ["refused 1 webhook request(s) with a wrong or missing secret (first)"]
            server.refused.clock = lambda: time.monotonic() + REFUSED_LOG_SECONDS  # the interval is over
            async with http.post(url, data="{}") as r:
                assert r.status == 403
    lines = [r.getMessage() for r in caplog.records if "wrong or missing secret" in r.getMessage()]
    assert len(lines) == 2 and lines[1].startswith(
        "refused 20 webhook request(s) with a wrong or missing secret in the last"
    )


async def test_slow_or_huge_headers_are_cut_off(
    api: FakeBotAPI, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends its headers a byte at a time is disconnected after the header deadline;
    headers growing beyond 16 KB are refused; a good request on the same server still works."""
    monkeypatch.setattr(GuardedH11, "header_seconds", 0.5)
    settings = make_settings()
    async with serving(settings):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.listen_port)
        started = time.monotonic()
        closed_after = None
        for _ in range(40):  # one header byte every 0.1 s: never done
            try:
                writer.write(b"X")
                await writer.drain()
                if reader.at_eof() or await asyncio.wait_for(reader.read(1), 0.1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed_after = time.monotonic() - started
                break
        writer.close()
        assert closed_after is not None, "a connection sending headers forever was never closed"
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.listen_port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        for _ in range(10):  # headers that keep growing past 16 KB before they end
            writer.write(b"a" * 2_000)
            await writer.drain()
            await asyncio.sleep(0.01)
        status = (await asyncio.wait_for(reader.readline(), 5)).split()
        writer.close()
        assert status[1] in (b"400", b"431"), status
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{settings.listen_port}/healthz") as r,
        ):
            assert r.status == 200
