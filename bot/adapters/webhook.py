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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.adapters.telegram import StartupError, build_application, retry_startup, wait_for_telegram
from bot.runtime import Core, build_core
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"


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


class WebhookServer:
    """The PTB application (no Updater) and the Starlette app in front of it."""

    def __init__(self, settings: Settings, *, core: Core | None = None) -> None:
        check_settings(settings)
        assert settings.webhook_secret is not None and settings.webhook_url is not None
        self.settings = settings
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self.core = core or build_core(settings)
        self.application: Application = build_application(  # type: ignore[type-arg]
            settings, core=self.core, polling=False
        )
        self.app = Starlette(
            routes=[
                Route(settings.webhook_path, self.telegram, methods=["POST"]),
                Route(HEALTH_PATH, self.healthz, methods=["GET"]),
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
            return Response(status_code=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            log.warning("webhook request with a body that is not an update")
            return Response(status_code=400)
        # errors inside are handled by the application's error handler (logged, person told)
        await self.application.process_update(update)
        return Response(status_code=200)

    async def healthz(self, _request: Request) -> Response:
        running = self.application.running
        db_ok = True
        try:
            async with asyncio.timeout(3), self.core.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            db_ok = False
        ok = running and db_ok
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "running": running, "database": db_ok},
            status_code=200 if ok else 503,
        )


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
    import uvicorn

    ports = [("KNOTBOT_LISTEN_HOST:KNOTBOT_LISTEN_PORT", settings.listen_host, settings.listen_port)]
    if settings.metrics_port is not None:
        ports.append(("KNOTBOT_METRICS_PORT", "0.0.0.0", settings.metrics_port))
    for name, host, port in ports:  # before setWebhook: Telegram must not be sent to a dead end
        reason = port_unavailable(host, port)
        if reason is not None:
            raise StartupError(f"cannot listen on {host}:{port} ({name}): {reason}")
    asyncio.run(wait_for_telegram(settings))
    server = WebhookServer(settings)
    config = uvicorn.Config(
        server.app,
        host=settings.listen_host,
        port=settings.listen_port,
        lifespan="on",
        log_config=None,  # our logging setup (no message text, token redacted)
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    log.info("listening on %s:%s", settings.listen_host, settings.listen_port)
    uv = uvicorn.Server(config)
    uv.run()
    return 0 if uv.started else 1
