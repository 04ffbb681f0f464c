"""Prometheus metrics and the optional ``/healthz`` + ``/metrics`` HTTP endpoint.

The metrics are module-level (prometheus-client's default registry), incremented
with one-line calls in the service, the deliverer and the adapters. The endpoint
is a small asyncio server in the bot's own event loop, so ``/healthz`` answering
means the loop that handles updates is alive. It starts only when
``KNOTBOT_METRICS_PORT`` is set. Labels never carry a person, a chat or any text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

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

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
_MAX_REQUEST_LINE = 8192
_MAX_HEADER_LINES = 100


class MetricsServer:
    """``GET /healthz`` (JSON, 200) and ``GET /metrics`` (Prometheus text) on ``host:port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self._server: asyncio.Server | None = None
        self._started = time.monotonic()

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port 0 in tests)."""
        assert self._server is not None and self._server.sockets, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        log.info("metrics endpoint listening port=%s", self.bound_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                line = await reader.readline()
                for _ in range(_MAX_HEADER_LINES):  # headers: not needed
                    if (await reader.readline()) in (b"\r\n", b"\n", b""):
                        break
                else:
                    raise ValueError("too many header lines")
            status, ctype, body = self._answer(line[:_MAX_REQUEST_LINE])
        except ValueError:  # a line longer than the reader's 64 KiB limit, or endless headers
            status, ctype, body = "431 Request Header Fields Too Large", "text/plain", b"too large\n"
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return
        try:
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, request_line: bytes) -> tuple[str, str, bytes]:
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        path = parts[1].split("?", 1)[0]
        if path == HEALTH_PATH:
            uptime = round(time.monotonic() - self._started, 1)
            return "200 OK", "application/json", json.dumps({"status": "ok", "uptime_s": uptime}).encode()
        if path == METRICS_PATH:
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return "404 Not Found", "text/plain", b"not found\n"


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
