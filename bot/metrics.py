"""Prometheus metrics and the optional ``/healthz`` + ``/metrics`` HTTP endpoint.

The metrics are module-level (prometheus-client's default registry), incremented
with one-line calls in the service, the deliverer and the adapters. The endpoint
is a small starlette app served by uvicorn as a task in the bot's own event loop,
so ``/healthz`` answering means the loop that handles updates is alive. It starts only when
``KNOTBOT_METRICS_PORT`` is set. Labels never carry a person, a chat or any text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.web import HEALTH_PATH, MAX_HEADER_BYTES, GuardedH11, healthz

log = logging.getLogger(__name__)

UPDATES = Counter(
    "knotbot_updates",
    "Updates received, by outcome: handled, duplicate, flood (ignored), group, ignored, error",
    ["outcome"],
)
HANDLER_SECONDS = Histogram(
    "knotbot_handler_seconds",
    "Time to handle one update: transaction, button answer and replies",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "knotbot_errors", "Errors, by where they happened: update, dispatch, delivery, retention", ["where"]
)
SCHEDULED = Counter(
    "knotbot_scheduled_messages",
    "Rows of scheduled_messages by event: due (claimed to send), sent, retried, failed, dropped, blocked, "
    "claim_lost (its lease ran out before sending; another process sends it), capped (not planned: the "
    "person already had KNOTBOT_MAX_PENDING_PER_KIND of that kind pending), paced (moved behind its chat's "
    "per-chat pacing so other chats go first)",
    ["event"],
)
DISPATCH_LAG = Histogram(
    "knotbot_dispatch_lag_seconds",
    "How late a timed message was when the dispatcher claimed it (claim time - due time)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
WEBHOOK_REFUSED = Counter(
    "knotbot_webhook_refused",
    "Webhook requests refused, by reason: secret (403), too_large (413), slow (408), not_an_update (400)",
    ["reason"],
)
PRUNED = Counter("knotbot_pruned_rows", "Rows removed by the retention job, by table", ["table"])
STARTED = Gauge("knotbot_started_at_seconds", "When this process started (Unix time)")
STARTED.set_to_current_time()

METRICS_PATH = "/metrics"


class _MetricsH11(GuardedH11):
    max_header_lines = 100  # more than this: 431


class _Exposition:
    """prometheus-client's ASGI app as a class instance, so a starlette ``Route`` serves it as an
    ASGI app (GET and HEAD, 405 otherwise) on ``/metrics`` itself — a ``Mount`` would redirect
    ``/metrics`` to ``/metrics/`` and answer any method."""

    def __init__(self) -> None:
        self.app = make_asgi_app(REGISTRY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def metrics_app() -> Starlette:
    """``GET /healthz`` (:func:`bot.web.healthz` with no checks: 200 while the loop answers) and
    ``GET /metrics`` (prometheus-client's exposition); anything else 404, other methods 405."""
    app = Starlette(
        routes=[
            Route(HEALTH_PATH, healthz(), methods=["GET"]),
            Route(METRICS_PATH, _Exposition(), methods=["GET"]),
        ],
    )
    app.router.redirect_slashes = False  # "/metrics/" is 404, as it always was, not a redirect
    return app


class MetricsServer:
    """:func:`metrics_app` on ``host:port``, served by uvicorn as a task in the running event loop."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self._server: uvicorn.Server | None = None
        self._sockets: list[socket.socket] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port 0 in tests)."""
        assert self._server is not None and self._sockets, "not started"
        port: int = self._sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Listen and serve; raises :class:`OSError` if ``host:port`` cannot be listened on."""
        self._sockets = _listen(self.host, self.port)  # ours, so a taken port is an OSError here
        config = uvicorn.Config(
            metrics_app(),
            lifespan="off",
            log_config=None,  # our logging setup
            access_log=False,
            http=_MetricsH11,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            timeout_graceful_shutdown=5,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        try:
            # not Server.serve(): that takes over SIGINT/SIGTERM, which are the bot's
            await server.startup(sockets=self._sockets)
        except BaseException:
            for sock in self._sockets:
                sock.close()
            self._sockets = []
            raise
        self._server = server
        self._task = asyncio.create_task(server.main_loop(), name="metrics endpoint")
        log.info("metrics endpoint listening port=%s", self.bound_port)

    async def stop(self) -> None:
        server, task, self._server, self._task = self._server, self._task, None, None
        if server is None:
            return
        server.should_exit = True
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        with contextlib.suppress(Exception):
            await server.shutdown(sockets=self._sockets)
        self._sockets = []


def _listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address ``host`` resolves to, as ``asyncio.start_server`` makes."""
    sockets: list[socket.socket] = []
    try:
        for family, _type, _proto, _name, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(100)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def record_claims(lags: list[float], *, dropped: int, due: int) -> None:
    """The dispatcher claimed rows: how late each was, how many were dropped and how many go out."""
    for lag in lags:
        DISPATCH_LAG.observe(max(0.0, lag))
    if due:
        SCHEDULED.labels(event="due").inc(due)
    if dropped:
        SCHEDULED.labels(event="dropped").inc(dropped)


def record_outcome(outcome: str, *, retried: bool) -> None:
    """One send settled: sent, blocked, failed, or retry (failed for good after the last attempt)."""
    if outcome == "retry":
        outcome = "retried" if retried else "failed"
    SCHEDULED.labels(event=outcome).inc()
