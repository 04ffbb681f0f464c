"""Webhook mode (``knotbot webhook``): an ASGI app that receives Telegram updates over HTTPS.

Telegram POSTs each update to ``KNOTBOT_WEBHOOK_URL``; this app answers on that
URL's path. A request without the right ``X-Telegram-Bot-Api-Secret-Token``
header gets 403 and is not looked at. A good one is processed to the end
(``Application.process_update``: one transaction, then the replies are sent)
*before* the 200 goes back, so Telegram's one-request-per-chat queue holds the
person's next update until this one is done — whichever replica gets it next.
``/healthz`` answers 200 while the bot runs and the database answers.

Start-up waits for Telegram: :func:`serve` retries getMe before the server starts
(a rejected token ends it with :class:`~bot.adapters.telegram.StartupError`, one
line), and getMe, setMyCommands and setWebhook in the lifespan are retried with
capped backoff while Telegram is unreachable (:func:`~bot.adapters.telegram.retry_startup`).

Several replicas can run behind a load balancer on one PostgreSQL database:
per-person order comes from Telegram's queue plus the per-person advisory lock
in the update's transaction, and one replica at a time runs the dispatcher
(:mod:`bot.storage.leader`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.adapters.telegram import StartupError, build_application, retry_startup, wait_for_telegram
from bot.adapters.updates import log_skipped, unparsable
from bot.runtime import Core, build_core
from bot.service import database_answers
from bot.settings import Settings
from bot.web import HEALTH_PATH, MAX_HEADER_BYTES, GuardedH11, healthz

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # bytes; Telegram's updates are a few KB: anything bigger is answered 413 unread
BODY_SECONDS = 10.0  # to send the body, once the headers are in
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this
REFUSED_LOG_SECONDS = 60.0  # requests with a wrong secret: one counted line per this interval


class WebhookConfigError(Exception):
    """Webhook mode is missing a setting; the message is one line naming it."""


def check_settings(settings: Settings) -> None:
    """Raise :class:`WebhookConfigError` unless everything webhook mode needs is set."""
    if settings.telegram_bot_token is None:
        raise WebhookConfigError("webhook mode needs TELEGRAM_BOT_TOKEN")
    if settings.webhook_url is None:
        raise WebhookConfigError("webhook mode needs KNOTBOT_WEBHOOK_URL (the public URL Telegram calls)")
    if settings.webhook_secret is None:
        raise WebhookConfigError("webhook mode needs KNOTBOT_WEBHOOK_SECRET")
    if settings.webhook_path == HEALTH_PATH:
        raise WebhookConfigError(f"KNOTBOT_WEBHOOK_URL must not end in {HEALTH_PATH}")
    if settings.metrics_port and settings.metrics_port == settings.listen_port:
        raise WebhookConfigError(
            "KNOTBOT_METRICS_PORT must differ from KNOTBOT_LISTEN_PORT (two servers cannot share a port; "
            f"{HEALTH_PATH} is on both)"
        )


class RefusedRequests:
    """Counts requests refused for a wrong or missing secret; logs one line per interval with how
    many (a leaked URL being probed must not flood the log, nor go unnoticed)."""

    def __init__(self, interval: float = REFUSED_LOG_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self.count = 0
        self._logged_at: float | None = None

    def hit(self) -> None:
        metrics.WEBHOOK_REFUSED.labels(reason="secret").inc()
        self.count += 1
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < self.interval:
            return
        since = f"in the last {now - self._logged_at:.0f} s" if self._logged_at is not None else "(first)"
        log.warning("refused %d webhook request(s) with a wrong or missing secret %s", self.count, since)
        self._logged_at, self.count = now, 0


class WebhookServer:
    """The PTB application (no Updater) and the Starlette app in front of it."""

    def __init__(self, settings: Settings, *, core: Core | None = None) -> None:
        check_settings(settings)
        assert settings.webhook_secret is not None and settings.webhook_url is not None
        self.settings = settings
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self.refused = RefusedRequests()
        self.core = core or build_core(settings)
        self.application: Application = build_application(  # type: ignore[type-arg]
            settings, core=self.core, polling=False
        )
        self.app = Starlette(
            routes=[
                Route(settings.webhook_path, self.telegram, methods=["POST"]),
                Route(HEALTH_PATH, healthz({"running": self._running, "database": self._database})),
            ],
            lifespan=self.lifespan,
        )

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        application = self.application
        await application.initialize()
        try:
            assert application.post_init is not None
            await application.post_init(application)  # schema check, commands, dispatcher waker
            await retry_startup(
                "setWebhook",
                lambda: application.bot.set_webhook(
                    url=self.settings.webhook_url or "",
                    secret_token=self._secret.decode(),
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=self.settings.webhook_drop_pending,
                ),
            )
            await application.start()
            log.info("webhook ready on path %s", self.settings.webhook_path)
            try:
                yield
            finally:
                await application.stop()
                if application.post_stop is not None:
                    await application.post_stop(application)
        finally:
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        return given is not None and hmac.compare_digest(given.encode(), self._secret)

    async def telegram(self, request: Request) -> Response:
        if not self._authorised(request):
            self.refused.hit()
            return Response(status_code=403)
        try:
            async with asyncio.timeout(BODY_SECONDS):
                body = await read_body(request, MAX_BODY)
        except TimeoutError:
            return self._bad("slow", 408)
        if body is None:
            return self._bad("too_large", 413)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return self._bad("not_an_update", 400)
        error = unparsable(data)
        if error is not None:  # a newer Bot API field, say: answered, so Telegram does not resend it
            log_skipped(data["update_id"], data, error)
            return Response(status_code=200)
        # errors inside are handled by the application's error handler (logged, person told)
        await self.application.process_update(Update.de_json(data, self.application.bot))
        return Response(status_code=200)

    @staticmethod
    def _bad(reason: str, status: int) -> Response:
        metrics.WEBHOOK_REFUSED.labels(reason=reason).inc()
        log.warning("webhook request refused reason=%s status=%d", reason, status)
        return Response(status_code=status)

    async def _running(self) -> bool:
        return bool(self.application.running)

    async def _database(self) -> bool:
        return await database_answers(self.core.db, within=3)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to be longer than ``limit`` bytes (by its
    Content-Length, before reading anything, or while reading): the rest is never read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def uvicorn_config(server: WebhookServer, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How ``knotbot webhook`` runs uvicorn: our logging, header size and time limits, keep-alive."""
    options: dict[str, Any] = {
        "host": settings.listen_host,
        "port": settings.listen_port,
        "lifespan": "on",
        "log_config": None,  # our logging setup (no message text, token redacted)
        "access_log": False,
        "timeout_graceful_shutdown": 30,
        "http": GuardedH11,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        **overrides,
    }
    return uvicorn.Config(server.app, **options)


def port_unavailable(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, no such address), or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or type(exc).__name__
    return None


def serve(settings: Settings) -> int:
    """Run the webhook server with uvicorn until SIGINT/SIGTERM; returns an exit code.

    Checks first that its ports can be listened on and waits for Telegram (raises
    :class:`~bot.adapters.telegram.StartupError` if a port is taken or Telegram rejects the
    token); 1 if the server could not start all the same (uvicorn has logged why).
    """
    ports = [("KNOTBOT_LISTEN_HOST:KNOTBOT_LISTEN_PORT", settings.listen_host, settings.listen_port)]
    if settings.metrics_port is not None:
        ports.append(
            ("KNOTBOT_METRICS_HOST:KNOTBOT_METRICS_PORT", settings.metrics_host, settings.metrics_port)
        )
    for name, host, port in ports:  # before setWebhook: Telegram must not be sent to a dead end
        reason = port_unavailable(host, port)
        if reason is not None:
            raise StartupError(f"cannot listen on {host}:{port} ({name}): {reason}")
    asyncio.run(wait_for_telegram(settings))
    server = WebhookServer(settings)
    config = uvicorn_config(server, settings)
    log.info("listening on %s:%s", settings.listen_host, settings.listen_port)
    uv = uvicorn.Server(config)
    uv.run()
    return 0 if uv.started else 1
