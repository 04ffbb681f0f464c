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
from tests.e2e_helpers import running_bot, telegram_bot
from tests.fakebotapi import FakeBotAPI


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
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
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


def test_metrics_host_is_a_setting_with_a_local_default(make_settings: Callable[..., Settings]) -> None:
    assert Settings(_env_file=None).metrics_host == "127.0.0.1"  # type: ignore[call-arg]
    assert make_settings(metrics_host="0.0.0.0").metrics_host == "0.0.0.0"


async def test_the_endpoint_answers_get_and_head_only_on_its_two_exact_paths() -> None:
    """starlette's routing: HEAD as GET (no body), other methods 405, other paths 404, and
    ``/metrics`` itself answered (no redirect to ``/metrics/``)."""
    server = metrics.MetricsServer(0)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.bound_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics", allow_redirects=False) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=")
            async with http.get(f"{base}/healthz?probe=1") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "application/json"
                assert set(await response.json()) == {"status", "uptime_s"}
            for path in ("/healthz", "/metrics"):
                async with http.head(f"{base}{path}") as response:
                    assert response.status == 200
                    assert await response.read() == b""
                for method in ("POST", "PUT", "DELETE"):
                    async with http.request(method, f"{base}{path}") as response:
                        assert response.status == 405, (method, path)
            for path in ("/metrics/", "/metrics/x", "/", "/healthz/x"):
                async with http.get(f"{base}{path}", allow_redirects=False) as response:
                    assert response.status == 404, path
    finally:
        await server.stop()


async def test_a_taken_port_is_an_os_error_and_stop_frees_the_port() -> None:
    first = metrics.MetricsServer(0)
    await first.start()
    port = first.bound_port
    try:
        with pytest.raises(OSError):
            await metrics.MetricsServer(port).start()
    finally:
        await first.stop()
    again = metrics.MetricsServer(port)  # the port is free again once stopped
    await again.start()
    await again.stop()
    await again.stop()  # twice is harmless


async def test_healthz_is_one_handler_for_both_servers() -> None:
    """bot.web.healthz: each check by name, 503 as soon as one fails, uptime in every body."""
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Route

    from bot.web import healthz

    async def yes() -> bool:
        return True

    async def no() -> bool:
        return False

    app = Starlette(
        routes=[
            Route("/plain", healthz()),
            Route("/good", healthz({"running": yes, "database": yes})),
            Route("/bad", healthz({"running": yes, "database": no})),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        plain, good, bad = [await client.get(path) for path in ("/plain", "/good", "/bad")]
    assert plain.status_code == 200 and plain.json()["status"] == "ok"
    assert list(plain.json()) == ["status", "uptime_s"]
    assert good.status_code == 200
    assert list(good.json()) == ["status", "running", "database", "uptime_s"]
    assert bad.status_code == 503
    assert {k: v for k, v in bad.json().items() if k != "uptime_s"} == {
        "status": "unavailable",
        "running": True,
        "database": False,
    }


def test_webhook_mode_refuses_one_port_for_both_servers(make_settings: Callable[..., Settings]) -> None:
    from bot.adapters.webhook import WebhookConfigError, check_settings

    settings = make_settings(
        webhook_url="https://example.org/hook",
        webhook_secret="0123456789abcdef0123",
        listen_port=8443,
        metrics_port=8443,
    )
    with pytest.raises(WebhookConfigError, match="KNOTBOT_METRICS_PORT must differ from KNOTBOT_LISTEN_PORT"):
        check_settings(settings)
    check_settings(
        make_settings(
            webhook_url="https://example.org/hook", webhook_secret="0123456789abcdef0123", metrics_port=9100
        )
    )
