"""HTTP pieces both of the bot's servers share: the one ``/healthz`` handler and uvicorn's h11
protocol with a deadline for each request's headers.

The webhook app (:mod:`bot.adapters.webhook`) and the metrics endpoint (:mod:`bot.metrics`) both
run on uvicorn in the bot's own event loop and answer ``/healthz`` with :func:`healthz`; what they
check differs (the webhook: the bot runs and the database answers; the metrics endpoint: only
that the loop answers), the handler and the body's shape do not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import h11
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from uvicorn.protocols.http.h11_impl import H11Protocol

HEALTH_PATH = "/healthz"
HEADER_SECONDS = 10.0  # to send a request's headers (GuardedH11)
MAX_HEADER_BYTES = 16 * 1024  # request line and headers together (h11's limit; 431 beyond)

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 10\r\nconnection: close\r\n\r\ntoo large\n"
)

HealthCheck = Callable[[], Awaitable[bool]]


def healthz(checks: Mapping[str, HealthCheck] | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The ``/healthz`` endpoint: runs each named check in turn and answers
    ``{"status": "ok"|"unavailable", <name>: bool, ..., "uptime_s": seconds}`` with 200 when every
    check passed (none: always), else 503. Uptime counts from when the endpoint was made."""
    started = time.monotonic()
    named = dict(checks or {})

    async def endpoint(_request: Request) -> Response:
        results = {name: await check() for name, check in named.items()}
        ok = all(results.values())
        body: dict[str, object] = {"status": "ok" if ok else "unavailable", **results}
        body["uptime_s"] = round(time.monotonic() - started, 1)
        return JSONResponse(body, status_code=200 if ok else 503)

    return endpoint


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with limits on each request's head (request line and headers):

    - a deadline to send it: uvicorn has none, so a client could hold connections open by sending
      its headers a byte at a time;
    - over ``h11_max_incomplete_event_size`` bytes, or more than ``max_header_lines`` header lines
      (None: no limit), it gets 431 and the connection is closed, before h11 parses it (uvicorn
      itself answers 400, or nothing, depending on how the bytes arrive).
    """

    header_seconds = HEADER_SECONDS
    max_header_lines: int | None = None
    _header_timer: asyncio.TimerHandle | None = None
    _head = b""  # the head of the request h11 has not parsed yet, as received so far

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head = b""
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # no request parsed yet: this is (more of) its head
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            head = self._head if end < 0 else self._head[:end]
            limit = self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
            lines = self.max_header_lines
            if len(head) > limit or (lines is not None and head.count(b"\n") > lines):
                self._refuse_too_large()
                return
        super().data_received(data)

    def _refuse_too_large(self) -> None:
        self._head = b""
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._head = b""  # a request is in (or h11 gave up on it): the next head starts afresh
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the headers are in: the request's own deadlines apply

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets as long

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
