"""/healthz and /metrics on the optional port, fed by a real bot talking to the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client import REGISTRY

from bot import metrics
from bot.settings import Settings
from tests.fakebotapi import FakeBotAPI
from tests.test_odd_input import telegram_bot
from tests.test_telegram_e2e import api, make_settings, running_bot  # noqa: F401  (fixtures)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_health_and_metrics_endpoints_answer_and_unknown_paths_do_not() -> None:
    server = metrics.MetricsServer(0, host="127.0.0.1")
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.bound_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                body = await response.text()
            async with http.get(f"{base}/nothing") as response:
                assert response.status == 404
            async with http.post(f"{base}/metrics") as response:
                assert response.status == 405
    finally:
        await server.stop()
    for name in (
        "knotbot_updates_total",
        "knotbot_handler_seconds_bucket",
        "knotbot_errors_total",
        "knotbot_scheduled_messages_total",
        "knotbot_dispatch_lag_seconds_bucket",
    ):
        assert name in body or name.replace("_total", "") in body, name


async def test_a_running_bot_counts_updates_latency_and_messages(
    api: FakeBotAPI,  # noqa: F811
    make_settings: Callable[..., Settings],  # noqa: F811
) -> None:
    handled = _value("knotbot_updates_total", outcome="handled")
    latency = _value("knotbot_handler_seconds_count")
    sent = _value("knotbot_scheduled_messages_total", event="sent")
    async with running_bot(make_settings(metrics_port=0)) as app:
        server = telegram_bot(app).metrics_server
        assert server is not None
        ann = api.user(7171, "Ann")
        await ann.send_command("start")
        await ann.wait_for("Tap Begin")
        await ann.wait_idle()
        url = f"http://127.0.0.1:{server.bound_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            body = await response.text()
    assert 'knotbot_updates_total{outcome="handled"}' in body
    assert "7171" not in body and "Ann" not in body, "no person in the metrics"
    assert _value("knotbot_updates_total", outcome="handled") == handled + 1
    assert _value("knotbot_handler_seconds_count") == latency + 1
    assert _value("knotbot_scheduled_messages_total", event="sent") >= sent + 2
    assert telegram_bot(app).metrics_server is None, "stopped with the bot"


async def test_a_huge_request_line_or_endless_headers_get_431_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = metrics.MetricsServer(0)
    assert server.host == "127.0.0.1", "not reachable from outside unless KNOTBOT_METRICS_HOST says so"
    await server.start()
    try:
        for request in (
            b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 500 + b"\r\n",
        ):
            with caplog.at_level(logging.DEBUG):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
                writer.write(request)
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 5)
                writer.close()
            assert status.startswith(b"HTTP/1.1 431"), status
        assert not [r for r in caplog.records if r.exc_info], "no traceback"
    finally:
        await server.stop()


def test_metrics_host_is_a_setting_with_a_local_default(make_settings: Callable[..., Settings]) -> None:  # noqa: F811
    assert Settings(_env_file=None).metrics_host == "127.0.0.1"  # type: ignore[call-arg]
    assert make_settings(metrics_host="0.0.0.0").metrics_host == "0.0.0.0"
