"""In-process fake Telegram Bot API server for end-to-end conversation tests.

The real python-telegram-bot ``Application`` talks to :class:`FakeBotAPI` over HTTP, exactly as it
would talk to ``api.telegram.org``::

    async with FakeBotAPI() as api:
        app = (
            ApplicationBuilder()
            .token("123:TEST")
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        app.add_handler(...)
        async with run_polling(app):
            ann = api.user(1001, first_name="Ann")
            await ann.send_command("start")
            await ann.wait_for("Welcome")
            await ann.press("Yes")
            await ann.wait_idle()
            print(ann.transcript())

Features: long-polling ``getUpdates`` (offset/limit/timeout/allowed_updates), message sending and
editing with per-chat message ids, inline keyboards and callback queries, photo/document uploads
(multipart) and ``file_id`` reuse, file downloads, simulated users (:class:`FakeUser`) and fault
injection (``fail_next``, an enforced rate limit, blocked users, artificial latency, ``hang_next``: one
slow answer, before or after the work is done, and ``go_down``/``come_up``: an outage in which the
port refuses connections and open ones are cut), and, opt-in,
webhook delivery (:meth:`FakeBotAPI.start_webhook_delivery`): queued updates are POSTed to the
webhook URL(s) with the secret header, one request in flight per chat, alternating between several
targets like a load balancer, and retried on the next target until one answers 2xx.  Text sent
with ``parse_mode`` HTML / MarkdownV2 / Markdown is validated the way Telegram does it (a malformed
message gets the same 400 "can't parse entities" error) and stored as the plain text a user sees.

The bot token is accepted but never stored or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import logging
import math
import re
import secrets
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "ApiError",
    "Call",
    "FakeBotAPI",
    "FakeUser",
    "SentMessage",
    "UploadedFile",
    "WebhookDelivery",
    "run_polling",
]

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]

# Parameters whose form values are plain strings and must never be JSON-decoded.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "action",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "file_id",
        "language_code",
        "business_connection_id",
        "secret_token",
        "ip_address",
        "message_effect_id",
        "name",
        "description",
        "short_description",
        "emoji",
        "title",
        "question",
        "address",
        "phone_number",
        "first_name",
        "last_name",
    }
)
_FILE_PARAMS = ("photo", "document", "voice", "audio", "video", "animation", "sticker", "video_note")
# Telegram's default when allowed_updates was never specified.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
_OK_TRUE_METHODS = frozenset(
    m.lower()
    for m in (
        "close",
        "logOut",
        "setMyDescription",
        "setMyShortDescription",
        "setMyName",
        "setChatMenuButton",
        "setMyDefaultAdministratorRights",
        "setMessageReaction",
        "pinChatMessage",
        "unpinChatMessage",
        "unpinAllChatMessages",
    )
)
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
    b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


# --------------------------------------------------------------------------------------------------
# data classes
# --------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the fake API (becomes ``{"ok": false, ...}`` with HTTP status ``code``)."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One HTTP call the bot made to the API (recorded in :attr:`FakeBotAPI.calls`)."""

    method: str
    params: JSONDict
    timestamp: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    ok: bool | None = None  # None while the call is still being processed (long polls)
    result: Any = None
    error: JSONDict | None = None

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    @property
    def error_code(self) -> int | None:
        return self.error["error_code"] if self.error else None


@dataclass
class SentMessage:
    """A message the bot sent to a chat (its current state; edits update it in place)."""

    message_id: int
    chat_id: int
    raw: JSONDict
    source_text: str | None = None  # text/caption exactly as the bot sent it (with markup)
    parse_mode: str | None = None
    edited: bool = False
    deleted: bool = False

    @property
    def text(self) -> str:
        """The text, or the caption of a media message ("" if neither)."""
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def reply_markup(self) -> JSONDict | None:
        return self.raw.get("reply_markup")

    @property
    def keyboard(self) -> list[list[JSONDict]]:
        """Rows of inline keyboard buttons ([] if the message has no inline keyboard)."""
        markup = self.reply_markup or {}
        return markup.get("inline_keyboard") or []

    @property
    def buttons(self) -> list[str]:
        return [b.get("text", "") for row in self.keyboard for b in row]

    @property
    def photo(self) -> list[JSONDict] | None:
        return self.raw.get("photo")

    @property
    def kind(self) -> str:
        for key in ("text", "photo", "document", "sticker", "voice", "audio", "video", "location"):
            if key in self.raw:
                return key
        return "other"

    def snapshot(self) -> SentMessage:
        return SentMessage(
            message_id=self.message_id,
            chat_id=self.chat_id,
            raw=json.loads(json.dumps(self.raw)),
            source_text=self.source_text,
            parse_mode=self.parse_mode,
            edited=self.edited,
            deleted=self.deleted,
        )

    def __str__(self) -> str:
        return _format_bot_line(self)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None
    mime_type: str | None
    path: str
    photo_sizes: list[JSONDict] | None = None  # the full PhotoSize list this file belongs to


@dataclass
class WebhookDelivery:
    """One POST of an update to a webhook target (recorded in :attr:`FakeBotAPI.webhook_deliveries`)."""

    update_id: int
    target: str
    status: int | None = None  # HTTP status, None if the request failed
    error: str | None = None  # why it failed (connection refused, timeout, ...)
    started: float = 0.0
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _Hang:
    method: str
    seconds: float
    answered: bool
    remaining: int


# --------------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------------


class FakeBotAPI:
    """Fake Telegram Bot API server on 127.0.0.1 (random free port)."""

    def __init__(
        self,
        *,
        bot_id: int = 7_000_000_001,
        bot_username: str = "knotbot_test_bot",
        bot_first_name: str = "Knotbot",
        validate_markup: bool = True,
        strict_allowed_updates: bool = True,
    ) -> None:
        """Create the server (call :meth:`start` or use ``async with``).

        ``validate_markup``: reject malformed HTML/Markdown like Telegram does.
        ``strict_allowed_updates``: mimic Telegram's default of not delivering chat_member and
        reaction updates unless ``allowed_updates`` asked for them.
        """
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.validate_markup = validate_markup
        self.strict_allowed_updates = strict_allowed_updates
        self.calls: list[Call] = []
        self.server_errors: list[str] = []
        self.rate_limited_count = 0
        self.commands: dict[str, list[JSONDict]] = {}
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections: int | None = None
        self.allowed_updates: list[str] | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_inflight: dict[Any, asyncio.Task[None]] = {}
        self._webhook_retry_at: dict[int, float] = {}
        self._webhook_targets: list[str] | None = None
        self._webhook_turn = itertools.count()

        self._users: dict[int, FakeUser] = {}
        self._pending: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._max_returned_update_id = 0
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._callback_ids = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._faults: list[_Fault] = []
        self._garbled: dict[str, int] = {}  # method -> how many of its next calls get a nonsense answer
        self._unreadable: dict[str, int] = {}  # method -> how many of its next calls get a non-JSON 200
        self._delays: dict[str, float] = {}
        self._hangs: list[_Hang] = []
        self._down = False
        self._blocked: set[int] = set()
        self._rate_global: int | None = None
        self._rate_per_chat: int | None = None
        self._rate_window: deque[float] = deque()
        self._rate_window_chat: dict[Any, deque[float]] = {}
        self._rate_chat_burst: int | None = None
        self._rate_bucket_chat: dict[Any, tuple[float, float]] = {}  # chat -> (level, when)
        self._poll_generation = 0
        self._closing = False
        # set (and replaced by a fresh one) whenever something happens; lock-free on purpose: an
        # asyncio.Condition shared by hundreds of waiters that time out via wait_for can wedge on 3.11
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll whose client went away must not go on "delivering" updates
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        await self.stop_webhook_delivery()
        if self._runner is None:
            return
        self._closing = True
        await self._notify()  # release long polls
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url()``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_file_url()``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---- users & updates -------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        """Return the simulated user ``user_id`` (created on first use; private chat id == user id)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        fake = FakeUser(self, user_id, first_name, last_name, username, language_code)
        self._users[user_id] = fake
        return fake

    @property
    def users(self) -> dict[int, FakeUser]:
        return dict(self._users)

    async def queue_update(self, update: JSONDict) -> JSONDict:
        """Queue a raw update (an ``update_id`` is assigned if missing) and wake long polls."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        else:
            self._update_ids = itertools.count(max(update["update_id"] + 1, next(self._update_ids)))
        self._pending.append(update)
        self._pending.sort(key=lambda u: u["update_id"])
        await self._notify()
        return update

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (via a later ``offset``)."""
        return list(self._pending)

    def all_delivered(self, user_id: int | None = None) -> bool:
        """True when every queued update (of ``user_id``, if given) was returned by getUpdates (or, with
        webhook delivery on, answered 2xx by a webhook target)."""
        if self._webhook_task is not None:
            return not any(user_id is None or _update_user_id(u) == user_id for u in self._pending)
        for upd in self._pending:
            if upd["update_id"] > self._max_returned_update_id and (
                user_id is None or _update_user_id(upd) == user_id
            ):
                return False
        return True

    # ---- webhook delivery (opt-in) -----------------------------------------------------------------

    def start_webhook_delivery(
        self,
        targets: list[str] | None = None,
        *,
        retry_delay: float = 0.05,
        timeout: float = 30.0,
        max_connections: int | None = None,
    ) -> None:
        """Deliver queued updates by POSTing them, as Telegram does once a webhook is set.

        ``targets``: the URLs to POST to, taken in turn for each request (a load balancer in front
        of several replicas); default: the URL given to ``setWebhook``. The secret given to
        ``setWebhook`` goes in ``X-Telegram-Bot-Api-Secret-Token``. Like the Bot API server, one
        request per chat is in flight at a time and the chat's next update waits for a 2xx answer; a
        failed request (error status, refused connection, timeout) is retried after ``retry_delay``
        on the next target. At most ``max_connections`` requests run at once (default: the value
        given to ``setWebhook``, else Telegram's 40). Every request is recorded in
        :attr:`webhook_deliveries`. getUpdates is refused while a webhook is set, as on Telegram.
        """
        if self._webhook_task is not None:
            raise RuntimeError("webhook delivery is already running")
        assert self._changed is not None, "FakeBotAPI is not started"
        self._webhook_targets = list(targets) if targets else None
        limit = max_connections or self.webhook_max_connections or 40
        self._webhook_task = asyncio.get_running_loop().create_task(
            self._webhook_loop(limit, retry_delay, timeout)
        )

    async def stop_webhook_delivery(self) -> None:
        """Stop delivering; requests in flight are cancelled (their updates stay queued)."""
        task, self._webhook_task = self._webhook_task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _webhook_loop(self, limit: int, retry_delay: float, timeout: float) -> None:  # noqa: ASYNC109
        import aiohttp

        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        try:
            while True:
                if self._down:  # Telegram is down: nothing is delivered
                    await self._wait_changed(0.05)
                    continue
                now = time.monotonic()
                seen: set[Any] = set()
                for upd in self._deliverable():
                    if len(self._webhook_inflight) >= limit:
                        break
                    key = _update_user_id(upd)
                    key = ("update", upd["update_id"]) if key is None else key
                    if key in seen or key in self._webhook_inflight:
                        seen.add(key)
                        continue
                    seen.add(key)
                    if self._webhook_retry_at.get(upd["update_id"], 0.0) > now:
                        continue
                    self._webhook_inflight[key] = asyncio.get_running_loop().create_task(
                        self._webhook_post(session, key, upd, retry_delay)
                    )
                await self._wait_changed(0.05)
        finally:
            inflight = list(self._webhook_inflight.values())
            for task in inflight:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)
            self._webhook_inflight.clear()
            await session.close()

    async def _webhook_post(self, session: Any, key: Any, update: JSONDict, retry_delay: float) -> None:
        import aiohttp

        targets = self._webhook_targets or [self.webhook_url]
        target = targets[next(self._webhook_turn) % len(targets)]
        record = WebhookDelivery(update["update_id"], target, started=time.monotonic())
        self.webhook_deliveries.append(record)
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        try:
            if not target:
                raise RuntimeError("no webhook URL set")
            async with session.post(target, data=json.dumps(update), headers=headers) as response:
                await response.read()
                record.status = response.status
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            record.error = type(exc).__name__
        finally:
            record.finished = time.monotonic()
            self._webhook_inflight.pop(key, None)
        if record.ok:
            self._pending = [u for u in self._pending if u["update_id"] != update["update_id"]]
            self._webhook_retry_at.pop(update["update_id"], None)
            self._max_returned_update_id = max(self._max_returned_update_id, update["update_id"])
            uid = _update_user_id(update)
            if uid is not None and uid in self._users:
                self._users[uid]._last_activity = time.monotonic()
        else:
            self._webhook_retry_at[update["update_id"]] = time.monotonic() + retry_delay
        await self._notify()

    # ---- fault injection ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 400,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` ("*" = any method but getUpdates) fail."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                403: "Forbidden: bot was blocked by the user",
                502: "Bad Gateway",
                500: "Internal Server Error",
            }.get(error_code, "Bad Request: injected failure")
        if error_code == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(_Fault(method.lower(), error_code, description, retry_after, count))

    def garble_next(self, method: str, count: int = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with ``ok`` and a result that is not what the
        method returns, without doing anything (a broken proxy): the client fails in a way that is
        not a Telegram error."""
        self._garbled[method.lower()] = self._garbled.get(method.lower(), 0) + count

    def unreadable_next(self, method: str, count: int = 1) -> None:
        """Carry out the next ``count`` calls of ``method`` as usual but answer each with a 200 whose
        body is not JSON (a proxy that mangles answers): the work is done, the client cannot tell."""
        self._unreadable[method.lower()] = self._unreadable.get(method.lower(), 0) + count

    def clear_faults(self) -> None:
        self._faults.clear()

    def enforce_rate_limit(
        self,
        per_second: int | None = 30,
        per_chat_per_second: int | None = None,
        per_chat_burst: int | None = None,
    ) -> None:
        """Answer 429 (retry_after) to outgoing messages beyond these limits in any 1-second window.

        With ``per_chat_burst``, each chat is a leaky bucket instead ("short bursts tolerated"):
        it holds ``per_chat_burst`` messages and drains ``per_chat_per_second`` per second, so a
        burst that size goes through at once and a longer run must slow to the rate.
        """
        self._rate_global = per_second
        self._rate_per_chat = per_chat_per_second
        self._rate_chat_burst = per_chat_burst
        self._rate_window.clear()
        self._rate_window_chat.clear()
        self._rate_bucket_chat.clear()

    def disable_rate_limit(self) -> None:
        self.enforce_rate_limit(None, None)

    def block_user(self, user_id: int) -> None:
        """Sending anything to ``user_id`` now fails with 403 "bot was blocked by the user"."""
        self._blocked.add(user_id)

    def unblock_user(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay every answer to ``method`` ("*" = all but getUpdates) by ``seconds``."""
        self._delays[method.lower()] = seconds

    def hang_next(self, method: str, seconds: float, *, count: int = 1, answered: bool = False) -> None:
        """The next ``count`` calls of ``method`` (getUpdates included) take ``seconds`` longer.

        ``answered=False``: the wait comes first, as if the request were stuck on its way in; a
        client that gives up meanwhile cancels it and nothing is done. ``answered=True``: the work is
        done (the message is in the chat, the updates are handed out) and only the answer is late:
        a client that gives up cannot know whether its call worked. Either way a call the client
        gave up on is recorded with error code 499 (its ``result`` kept if the work was done).
        """
        self._hangs.append(_Hang(method.lower(), seconds, answered, count))

    async def go_down(self) -> None:
        """Become unreachable until :meth:`come_up`: stop listening (new connections are refused)
        and cut every open connection (calls in flight are cancelled and recorded with error code
        499). Webhook delivery pauses. Updates queued meanwhile wait, as on Telegram."""
        if self._runner is None:
            raise RuntimeError("FakeBotAPI is not started")
        if self._down:
            return
        self._down = True
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        for connection in server.connections if server is not None else []:
            connection.force_close()
        await self._notify()

    async def come_up(self) -> None:
        """Listen again on the same port after :meth:`go_down`."""
        if self._runner is None or not self._down:
            return
        for attempt in range(50):  # the old socket may take a moment to be released
            try:
                await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
                break
            except OSError:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        self._down = False
        await self._notify()

    # ---- inspection ----------------------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), optionally only (un)successful ones."""
        low = method.lower()
        return [c for c in self.calls if c.method.lower() == low and (ok is None or c.ok is ok)]

    def methods(self, *, include_polling: bool = False) -> list[str]:
        """Method names of all recorded calls in order (getUpdates left out unless asked)."""
        return [c.method for c in self.calls if include_polling or c.method.lower() != "getupdates"]

    def sent_messages(self, chat_id: int | None = None) -> list[SentMessage]:
        msgs = sorted(self._messages.values(), key=lambda m: (m.raw.get("date", 0), m.message_id))
        return [m for m in msgs if chat_id is None or m.chat_id == chat_id]

    def file_bytes(self, file_id: str) -> bytes | None:
        stored = self._files.get(file_id)
        return stored.data if stored else None

    def assert_no_server_errors(self) -> None:
        assert not self.server_errors, "FakeBotAPI internal errors:\n" + "\n".join(self.server_errors)

    # ---- internals: plumbing -------------------------------------------------------------------------

    async def _notify(self) -> None:
        if self._changed is None:
            return
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # wakes everybody waiting on it; later waiters wait on the new one

    async def _wait_changed(self, seconds: float) -> None:
        """Wait until something happens (a call is answered or an update is queued) or ``seconds``."""
        assert self._changed is not None, "FakeBotAPI is not started"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        params: JSONDict = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                    else:
                        params[key] = value
        decoded: JSONDict = {}
        for key, value in params.items():
            decoded[key] = _decode_param(key, value)
        # resolve attach://name references and bare file parts
        for key, value in list(decoded.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                name = value[len("attach://") :]
                if name in files:
                    decoded[key] = files[name]
        for key, upload in files.items():
            decoded.setdefault(key, upload)
        return decoded, files

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params, files = await self._read_params(request)
        except (ValueError, json.JSONDecodeError) as exc:
            err = ApiError(400, f"Bad Request: can't parse request: {exc}")
            return web.json_response(err.body(), status=400)
        call = Call(method=method, params=params, timestamp=time.monotonic(), files=files)
        self.calls.append(call)
        low = method.lower()
        status = 200
        try:
            delay = self._delays.get(low, self._delays.get("*") if low != "getupdates" else None)
            if delay:
                await asyncio.sleep(delay)
            hang = self._take_hang(low)
            if hang is not None and not hang.answered:
                await asyncio.sleep(hang.seconds)
            self._check_faults(low, params)
            handler = self._handlers().get(low)
            if self._garbled.get(low):
                self._garbled[low] -= 1
                handler = self._garbage
            if handler is None:
                if low in _OK_TRUE_METHODS:
                    result: Any = True
                else:
                    raise ApiError(404, "Not Found")
            else:
                result = await handler(params)
            call.ok, call.result = True, result
            body: JSONDict = {"ok": True, "result": result}
            if hang is not None and hang.answered:
                await self._notify()  # done and visible; only the answer is late
                await asyncio.sleep(hang.seconds)
        except ApiError as err:
            status = err.code
            body = err.body()
            call.ok, call.error = False, body
        except Exception as exc:  # a bug in the fake itself: make it visible
            logger.exception("FakeBotAPI failed handling %s", method)
            self.server_errors.append(f"{method}: {exc!r}")
            status = 500
            body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"}
            call.ok, call.error = False, body
        except asyncio.CancelledError:  # the client hung up (e.g. PTB stopped polling mid long-poll)
            call.ok = False
            call.error = {"ok": False, "error_code": 499, "description": "client disconnected"}
            raise
        await self._notify()
        if status == 200 and self._unreadable.get(low):
            self._unreadable[low] -= 1
            return web.Response(text="<html>ok</html>", status=200, content_type="text/html")
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None or stored.data is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    @staticmethod
    async def _garbage(params: JSONDict) -> Any:
        return "not what this method returns"

    def _take_hang(self, method: str) -> _Hang | None:
        for hang in self._hangs:
            if hang.method == method:
                hang.remaining -= 1
                if hang.remaining <= 0:
                    self._hangs.remove(hang)
                return hang
        return None

    def _check_faults(self, method: str, params: JSONDict) -> None:
        for fault in self._faults:
            if fault.method == method or (fault.method == "*" and method != "getupdates"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                if fault.error_code == 429:
                    self.rate_limited_count += 1
                raise ApiError(fault.error_code, fault.description, extra)
        if not _is_outgoing(method):
            return
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self._check_rate_limit(chat_id)

    def _check_rate_limit(self, chat_id: Any) -> None:
        if self._rate_global is None and self._rate_per_chat is None:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], int]] = []
        if self._rate_global is not None:
            windows.append((self._rate_window, self._rate_global))
        bucket: tuple[float, float] | None = None  # the chat's (level, drain rate) if it is a bucket
        if self._rate_per_chat is not None and chat_id is not None:
            if self._rate_chat_burst is None:
                windows.append((self._rate_window_chat.setdefault(chat_id, deque()), self._rate_per_chat))
            else:
                level, when = self._rate_bucket_chat.get(chat_id, (0.0, now))
                bucket = (max(0.0, level - (now - when) * self._rate_per_chat), float(self._rate_per_chat))
        for window, limit in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self.rate_limited_count += 1
                retry_after = max(1, math.ceil(window[0] + 1.0 - now))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                )
        if bucket is not None and self._rate_chat_burst is not None:
            level, rate = bucket
            if level + 1 > self._rate_chat_burst + 1e-9:
                self.rate_limited_count += 1
                retry_after = max(1, math.ceil((level + 1 - self._rate_chat_burst) / rate))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                )
            self._rate_bucket_chat[chat_id] = (level + 1, now)
        for window, _limit in windows:
            window.append(now)

    def _handlers(self) -> dict[str, Callable[[JSONDict], Awaitable[Any]]]:
        return {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendchataction": self._send_chat_action,
            "getfile": self._get_file,
            "getchat": self._get_chat,
        }

    # ---- internals: helpers ------------------------------------------------------------------------

    def _chat(self, chat_id: int | str) -> JSONDict:
        if isinstance(chat_id, int) and chat_id > 0:
            return self.user(chat_id, f"User{chat_id}").chat_dict()
        if isinstance(chat_id, int):
            return {"id": chat_id, "type": "supergroup" if chat_id < -(10**12) else "group", "title": "Group"}
        return {"id": -1001, "type": "channel", "title": str(chat_id), "username": str(chat_id).lstrip("@")}

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _require_chat_id(self, params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _render_text(self, text: Any, parse_mode: Any, *, caption: bool = False) -> str:
        what = "caption" if caption else "text"
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        plain = _parse_markup(text, parse_mode) if self.validate_markup else text
        limit = _MAX_CAPTION if caption else _MAX_TEXT
        if not caption and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(plain) > limit:
            raise ApiError(400, f"Bad Request: message {what} is too long")
        return plain

    def _inline_markup(self, params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: field must be an Array")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: text is empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                kinds = [k for k in button if k != "text"]
                if not kinds:
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "text buttons are unallowed in the inline keyboard",
                    )
        return markup

    def _new_message(self, chat_id: int, params: JSONDict, content: JSONDict) -> SentMessage:
        message_id = self._next_message_id(chat_id)
        raw: JSONDict = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        markup = self._inline_markup(params)
        if markup is not None:
            raw["reply_markup"] = markup
        reply_to = params.get("reply_parameters") or {}
        reply_to_id = reply_to.get("message_id") if isinstance(reply_to, dict) else None
        reply_to_id = reply_to_id or params.get("reply_to_message_id")
        if isinstance(reply_to_id, int):
            key = (chat_id, reply_to_id)
            bot_msg = self._messages.get(key)
            original = self._user_messages.get(key) or (bot_msg.raw if bot_msg else None)
            if original is not None:
                raw["reply_to_message"] = original
        source = params.get("text", params.get("caption"))
        msg = SentMessage(
            message_id, chat_id, raw, source_text=source, parse_mode=params.get("parse_mode") or None
        )
        self._messages[(chat_id, message_id)] = msg
        self._after_bot_output(chat_id, params, msg, "send")
        return msg

    def _after_bot_output(self, chat_id: int, params: JSONDict, msg: SentMessage | None, kind: str) -> None:
        user = self._users.get(chat_id)
        if user is None:
            return
        markup = params.get("reply_markup")
        if kind == "send" and isinstance(markup, dict):
            if "keyboard" in markup:
                user.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                user.reply_keyboard = None
        user._record_bot_output(kind, msg)

    def _find_message(self, params: JSONDict, *, deleting: bool = False) -> SentMessage | None:
        """The bot message addressed by chat_id/message_id; None for inline_message_id."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._require_chat_id(params)
        message_id = params.get("message_id")
        verb = "delete" if deleting else "edit"
        if not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = self._messages.get((chat_id, message_id))
        if msg is None and (chat_id, message_id) in self._user_messages and not deleting:
            raise ApiError(400, "Bad Request: message can't be edited")
        if msg is None or msg.deleted:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return msg

    def _store_file(
        self, data: bytes | None, filename: str | None, mime_type: str | None, folder: str, ext: str
    ) -> _StoredFile:
        n = next(self._file_counter)
        file_id = f"AgACAgIAAxkBAAI{n:05d}{secrets.token_urlsafe(12)}"
        stored = _StoredFile(
            file_id=file_id,
            file_unique_id=f"AQAD{n:05d}{secrets.token_hex(3)}",
            data=data,
            filename=filename,
            mime_type=mime_type,
            path=f"{folder}/file_{n}.{ext}",
        )
        self._files[file_id] = stored
        self._files_by_path[stored.path] = stored
        return stored

    def make_photo(self, data: bytes | None = None, filename: str = "photo.jpg") -> list[JSONDict]:
        """Store an image and return its PhotoSize list (smallest first, the original last)."""
        data = _TINY_PNG if data is None else data
        width, height = _image_size(data) or (640, 480)
        dims: list[tuple[int, int]] = []
        longest = max(width, height)
        for side in (90, 320, 800):
            if longest > side:
                scale = side / longest
                dims.append((max(1, round(width * scale)), max(1, round(height * scale))))
        dims.append((width, height))
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        sizes: list[JSONDict] = []
        stored_all: list[_StoredFile] = []
        for w, h in dims:
            stored = self._store_file(data, filename, mime, "photos", "jpg")
            stored_all.append(stored)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": len(data),
                }
            )
        for stored in stored_all:
            stored.photo_sizes = sizes
        return sizes

    def make_document(
        self, data: bytes, filename: str = "file.bin", mime_type: str = "application/octet-stream"
    ) -> JSONDict:
        """Store a file and return its Document JSON."""
        ext = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        stored = self._store_file(data, filename, mime_type, "documents", ext)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(data),
        }

    def _file_param(self, params: JSONDict, key: str) -> UploadedFile | _StoredFile | None:
        value = params.get(key)
        if isinstance(value, UploadedFile):
            return value
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"Bad Request: there is no {key} in the request")
        if value.startswith(("http://", "https://")):
            return None  # "downloaded" by Telegram: treat as a new file without content
        stored = self._files.get(value)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored

    # ---- method handlers -------------------------------------------------------------------------------

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        offset = params.get("offset")
        limit = params.get("limit") or 100
        limit = max(1, min(100, int(limit)))
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = list(allowed) or None
        if isinstance(offset, int):
            if offset < 0:
                self._pending = self._pending[offset:]
            elif offset > 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot "
                    "instance is running",
                )
            ready = self._deliverable()
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing:
                break
            await self._wait_changed(remaining)
        result = ready[:limit]
        if result:
            self._max_returned_update_id = max(self._max_returned_update_id, result[-1]["update_id"])
            for upd in result:
                uid = _update_user_id(upd)
                if uid is not None and uid in self._users:
                    self._users[uid]._last_activity = time.monotonic()
        return result

    def _deliverable(self) -> list[JSONDict]:
        allowed = set(self.allowed_updates) if self.allowed_updates else None
        keep: list[JSONDict] = []
        for upd in self._pending:
            kind = _update_type(upd)
            if allowed is not None:
                ok = kind in allowed
            elif self.strict_allowed_updates:
                ok = kind not in _DEFAULT_EXCLUDED_UPDATES
            else:
                ok = True
            if ok:
                keep.append(upd)
        # filtered-out updates are dropped for good, like Telegram never creating them
        self._pending = keep
        return list(keep)

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = str(params.get("url") or "")
        self.webhook_secret = str(params["secret_token"]) if params.get("secret_token") else None
        max_connections = params.get("max_connections")
        self.webhook_max_connections = int(max_connections) if max_connections else None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"]) or None
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    @staticmethod
    def _commands_key(params: JSONDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for cmd in commands:
            name = cmd.get("command", "") if isinstance(cmd, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(cmd.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description is empty")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        text = self._render_text(params.get("text"), params.get("parse_mode"))
        return self._new_message(chat_id, params, {"text": text}).raw

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text = self._render_text(params.get("text"), params.get("parse_mode"))
        msg = self._find_message(params)
        if msg is None:
            return True
        if "text" not in msg.raw:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(msg, params, {"text": text}, params.get("text"))

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption = self._render_text(params.get("caption"), params.get("parse_mode"), caption=True)
        msg = self._find_message(params)
        if msg is None:
            return True
        if "text" in msg.raw:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(msg, params, {"caption": caption} if caption else {}, params.get("caption"))

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        msg = self._find_message(params)
        if msg is None:
            return True
        keep = {k: msg.raw[k] for k in ("text", "caption") if k in msg.raw}
        return self._apply_edit(msg, params, keep, msg.source_text, keep_parse_mode=True)

    def _apply_edit(
        self,
        msg: SentMessage,
        params: JSONDict,
        content: JSONDict,
        source: str | None,
        *,
        keep_parse_mode: bool = False,
    ) -> JSONDict:
        new_markup = self._inline_markup(params)
        old_content = {k: msg.raw.get(k) for k in ("text", "caption")}
        new_content = {k: content.get(k) for k in ("text", "caption")}
        if old_content == new_content and msg.raw.get("reply_markup") == new_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message",
            )
        for key in ("text", "caption", "reply_markup"):
            msg.raw.pop(key, None)
        msg.raw.update(content)
        if new_markup is not None:
            msg.raw["reply_markup"] = new_markup
        msg.raw["edit_date"] = int(time.time())
        msg.source_text = source
        if not keep_parse_mode:
            msg.parse_mode = params.get("parse_mode") or None
        msg.edited = True
        self._after_bot_output(msg.chat_id, params, msg, "edit")
        return msg.raw

    async def _delete_message(self, params: JSONDict) -> bool:
        msg = self._find_message(params, deleting=True)
        if msg is not None:
            msg.deleted = True
            self._after_bot_output(msg.chat_id, params, msg, "delete")
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callback_queries.get(query_id, True):  # unknown or already answered
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        for user in self._users.values():
            if query_id in user._callback_ids:
                user.callback_answers.append(params)
                user._transcript.append(
                    f"<< bot (answer{' alert' if params.get('show_alert') else ''}): {text or ''}".rstrip()
                )
                user._last_activity = time.monotonic()
        return True

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        source = self._file_param(params, "photo")
        caption = self._render_text(params.get("caption"), params.get("parse_mode"), caption=True)
        if isinstance(source, UploadedFile):
            if _image_size(source.data) is None and not source.data:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            sizes = self.make_photo(source.data, source.filename or "photo.jpg")
        elif isinstance(source, _StoredFile):
            if source.photo_sizes is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            sizes = source.photo_sizes
        else:
            sizes = self.make_photo(None)
        content: JSONDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._new_message(chat_id, params, content).raw

    async def _send_document(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        source = self._file_param(params, "document")
        caption = self._render_text(params.get("caption"), params.get("parse_mode"), caption=True)
        if isinstance(source, UploadedFile):
            document = self.make_document(
                source.data, source.filename or "file.bin", source.content_type or "application/octet-stream"
            )
        elif isinstance(source, _StoredFile):
            document = {
                "file_id": source.file_id,
                "file_unique_id": source.file_unique_id,
                "file_name": source.filename or "file.bin",
                "mime_type": source.mime_type or "application/octet-stream",
                "file_size": len(source.data or b""),
            }
        else:
            document = self.make_document(b"", "remote.bin")
        content: JSONDict = {"document": document}
        if caption:
            content["caption"] = caption
        return self._new_message(chat_id, params, content).raw

    async def _send_chat_action(self, params: JSONDict) -> bool:
        chat_id = self._require_chat_id(params)
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        user = self._users.get(chat_id)
        if user is not None:
            user._last_activity = time.monotonic()
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data or b""),
            "file_path": stored.path,
        }

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        return {**self._chat(chat_id), "accent_color_id": 0, "max_reaction_count": 11}


# --------------------------------------------------------------------------------------------------
# simulated users
# --------------------------------------------------------------------------------------------------


class FakeUser:
    """A simulated Telegram user chatting with the bot in a private chat (chat id == user id)."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.messages: list[SentMessage] = []  # bot -> this chat, in order (current state)
        self.sent: list[JSONDict] = []  # updates this user produced
        self.callback_answers: list[JSONDict] = []
        self.reply_keyboard: JSONDict | None = None
        self._log: list[tuple[str, SentMessage | None]] = []  # bot outputs (send/edit/delete snapshots)
        self._transcript: list[str] = []
        self._callback_ids: set[str] = set()
        self._mark_messages = 0
        self._mark_log = 0
        self._last_activity = time.monotonic()

    # ---- identity ---------------------------------------------------------------------------------

    @property
    def chat_id(self) -> int:
        return self.id

    def user_dict(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat_dict(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    # ---- sending ------------------------------------------------------------------------------------

    def _mark(self, line: str) -> None:
        self._mark_messages = len(self.messages)
        self._mark_log = len(self._log)
        self._transcript.append(line)
        self._last_activity = time.monotonic()

    async def _send_message_update(self, content: JSONDict, line: str) -> JSONDict:
        message_id = self.api._next_message_id(self.id)
        message: JSONDict = {
            "message_id": message_id,
            "from": self.user_dict(),
            "chat": self.chat_dict(),
            "date": int(time.time()),
            **content,
        }
        self.api._user_messages[(self.id, message_id)] = message
        self._mark(line)
        update = await self.api.queue_update({"message": message})
        self.sent.append(update)
        return message

    async def send_text(self, text: str, **extra: Any) -> JSONDict:
        """Send a text message; a leading "/command" gets a bot_command entity. Returns the Message."""
        content: JSONDict = {"text": text, **extra}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return await self._send_message_update(content, f">> user: {text}")

    async def send_command(self, command: str, args: str = "") -> JSONDict:
        command = command.lstrip("/")
        return await self.send_text(f"/{command}" + (f" {args}" if args else ""))

    async def send_sticker(self, emoji: str = "👍") -> JSONDict:
        n = next(self.api._file_counter)
        sticker = {
            "file_id": f"CAACAgIAAxkBAAI{n:05d}{secrets.token_urlsafe(8)}",
            "file_unique_id": f"AgAD{n:05d}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send_message_update({"sticker": sticker}, f">> user: [sticker {emoji}]")

    async def send_photo(self, caption: str | None = None, data: bytes | None = None) -> JSONDict:
        content: JSONDict = {"photo": self.api.make_photo(data)}
        if caption:
            content["caption"] = caption
        return await self._send_message_update(content, f">> user: [photo] {caption or ''}".rstrip())

    async def send_document(
        self, data: bytes = b"hello", filename: str = "file.txt", mime_type: str = "text/plain"
    ) -> JSONDict:
        content = {"document": self.api.make_document(data, filename, mime_type)}
        return await self._send_message_update(content, f">> user: [document {filename}]")

    async def send_voice(self, duration: int = 2) -> JSONDict:
        stored = self.api._store_file(b"OggS" + b"\x00" * 60, "voice.ogg", "audio/ogg", "voice", "oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 64,
        }
        return await self._send_message_update({"voice": voice}, f">> user: [voice {duration}s]")

    async def send_location(self, latitude: float, longitude: float) -> JSONDict:
        location = {"latitude": latitude, "longitude": longitude}
        line = f">> user: [location {latitude},{longitude}]"
        return await self._send_message_update({"location": location}, line)

    async def send_update(self, raw: JSONDict) -> JSONDict:
        """Queue any raw update (edited_message, poll, my_chat_member, ...). Returns the update."""
        kind = _update_type(raw)
        self._mark(f">> user: [{kind}]")
        update = await self.api.queue_update(raw)
        self.sent.append(update)
        return update

    async def tap(self, label_substring: str) -> JSONDict:
        """Tap a button of the current reply keyboard (sends its text)."""
        labels = [
            (b if isinstance(b, str) else b.get("text", ""))
            for row in (self.reply_keyboard or {}).get("keyboard", [])
            for b in row
        ]
        for label in labels:
            if label_substring.lower() in label.lower():
                return await self.send_text(label)
        raise AssertionError(
            f"no reply-keyboard button matching {label_substring!r}; available: {labels}\n{self.transcript()}"
        )

    async def press(self, label_substring: str) -> JSONDict:
        """Press the inline button whose text contains ``label_substring`` (case-insensitive) on the
        most recent bot message offering one. Returns the queued callback_query update."""
        needle = label_substring.lower()
        for msg in reversed(self.messages):
            if msg.deleted:
                continue
            for row in msg.keyboard:
                for button in row:
                    if needle in str(button.get("text", "")).lower():
                        if "callback_data" not in button:
                            raise AssertionError(f"button {button.get('text')!r} has no callback_data")
                        return await self._press(msg, button["callback_data"], str(button.get("text")))
        available = [f"#{m.message_id}: {m.buttons}" for m in self.messages if m.keyboard and not m.deleted]
        raise AssertionError(
            f"no inline button matching {label_substring!r}. Available keyboards:\n  "
            + ("\n  ".join(available) or "(none)")
            + f"\nTranscript:\n{self.transcript()}"
        )

    async def press_data(self, callback_data: str, message_id: int | None = None) -> JSONDict:
        """Send a callback_query with arbitrary (possibly forged) data, attached to ``message_id`` (default:
        the latest bot message with a keyboard, else the latest bot message, else no message)."""
        msg: SentMessage | None = None
        if message_id is not None:
            msg = self.api._messages.get((self.id, message_id))
        else:
            with_kb = [m for m in self.messages if m.keyboard and not m.deleted]
            msg = with_kb[-1] if with_kb else (self.messages[-1] if self.messages else None)
        return await self._press(msg, callback_data, None)

    async def _press(self, msg: SentMessage | None, data: str, label: str | None) -> JSONDict:
        query_id = f"{self.id}{next(self.api._callback_ids):08d}"
        self.api._callback_queries[query_id] = False
        self._callback_ids.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": self.user_dict(),
            "chat_instance": f"-{self.id}0042",
            "data": data,
        }
        if msg is not None:
            query["message"] = json.loads(json.dumps(msg.raw))
        desc = f"[pressed {label!r} -> {data}]" if label is not None else f"[callback {data}]"
        self._mark(f">> user: {desc}")
        update = await self.api.queue_update({"callback_query": query})
        self.sent.append(update)
        return update

    # ---- inspection -----------------------------------------------------------------------------------

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    @property
    def last_message(self) -> SentMessage | None:
        return self.messages[-1] if self.messages else None

    @property
    def last_text(self) -> str | None:
        return self.messages[-1].text if self.messages else None

    def keyboard(self) -> list[list[JSONDict]]:
        """Rows of the most recent inline keyboard."""
        for msg in reversed(self.messages):
            if msg.keyboard and not msg.deleted:
                return msg.keyboard
        return []

    def buttons(self) -> list[str]:
        """Labels of the most recent inline keyboard (flattened)."""
        return [str(b.get("text", "")) for row in self.keyboard() for b in row]

    def transcript(self) -> str:
        return "\n".join(self._transcript)

    def _record_bot_output(self, kind: str, msg: SentMessage | None) -> None:
        snap = msg.snapshot() if msg is not None else None
        self._log.append((kind, snap))
        if kind == "send" and msg is not None:
            self.messages.append(msg)
        if msg is not None:
            prefix = {"send": "<< bot", "edit": f"<< bot (edit #{msg.message_id})"}.get(kind)
            if prefix is None:
                self._transcript.append(f"<< bot (deleted #{msg.message_id})")
            else:
                self._transcript.append(_format_bot_line(msg, prefix))
        self._last_activity = time.monotonic()

    # ---- waiting --------------------------------------------------------------------------------------

    def _candidates(self, since: int | None) -> list[SentMessage]:
        found: list[SentMessage] = []
        if since is not None:
            found.extend(m for m in self.messages[since:] if not m.deleted)
        found.extend(s for kind, s in self._log[self._mark_log :] if s is not None and kind != "delete")
        return found

    async def wait_for(
        self,
        predicate_or_substring: str | Callable[[SentMessage], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        since: int | None = None,
    ) -> SentMessage:
        """Wait for a bot message (sent or edited) to this chat matching a substring (case-insensitive)
        or predicate. Only messages sent/edited after the last user action count, or with ``since``,
        also every message in ``self.messages[since:]``. Raises AssertionError with the transcript."""
        if isinstance(predicate_or_substring, str):
            needle = predicate_or_substring.lower()

            def matches(m: SentMessage) -> bool:
                return needle in m.text.lower()

            what = repr(predicate_or_substring)
        else:
            matches = predicate_or_substring
            what = getattr(predicate_or_substring, "__name__", "predicate")
        deadline = time.monotonic() + timeout
        while True:
            for msg in self._candidates(since):
                if matches(msg):
                    return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for a bot message matching {what} "
                    f"in chat {self.id}.\nTranscript:\n{self.transcript()}"
                )
            await self.api._wait_changed(min(remaining, 0.25))

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until all of this user's updates were fetched and the bot made no call to this chat for
        ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            last = max(self._last_activity, self._last_bot_call())
            if self.api.all_delivered(self.id) and now - last >= quiet:
                return
            if now >= deadline:
                raise AssertionError(
                    f"chat {self.id} not idle after {timeout}s (pending updates: "
                    f"{not self.api.all_delivered(self.id)}).\nTranscript:\n{self.transcript()}"
                )
            wait = quiet - (now - last) if self.api.all_delivered(self.id) else 0.05
            await asyncio.sleep(max(0.01, min(wait, deadline - now)))

    def _last_bot_call(self) -> float:
        for call in reversed(self.api.calls):
            if call.params.get("chat_id") == self.id:
                return call.timestamp
        return 0.0


# --------------------------------------------------------------------------------------------------
# PTB helper
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def run_polling(app: Any, *, timeout: float = 1, **polling_kwargs: Any) -> AsyncIterator[Any]:  # noqa: ASYNC109
    """Initialize, start and poll a PTB ``Application``; stop and shut it down cleanly on exit."""
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=timeout, **polling_kwargs)
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()


# --------------------------------------------------------------------------------------------------
# module helpers
# --------------------------------------------------------------------------------------------------


def _decode_param(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _STRING_PARAMS:
        return value
    stripped = value.strip()
    if not stripped:
        return value
    if stripped[0] in '[{"-0123456789' or stripped in ("true", "false", "null"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def _is_outgoing(method: str) -> bool:
    if method in ("sendchataction",):
        return False
    return method.startswith(("send", "edit", "copymessage", "forwardmessage"))


def _update_type(update: JSONDict) -> str:
    for key in update:
        if key in _UPDATE_TYPES:
            return key
    return next((k for k in update if k != "update_id"), "unknown")


def _update_user_id(update: JSONDict) -> int | None:
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        sender = value.get("from") or value.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return sender["id"]
        chat = value.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return chat["id"]
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _format_bot_line(msg: SentMessage, prefix: str = "<< bot") -> str:
    body = msg.text
    if msg.kind not in ("text", "other"):
        body = f"[{msg.kind}] {body}".rstrip()
    body = body.replace("\n", "\n        ")
    if msg.keyboard:
        rows = " / ".join(" | ".join(str(b.get("text", "")) for b in row) for row in msg.keyboard)
        body += f" [{rows}]"
    return f"{prefix}: {body}"


def _image_size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + length
    return None


# ---- parse_mode validation ---------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji"}
    | {"code", "pre", "blockquote"}
)
_HTML_TOKEN = re.compile(r"<(/?)([^\s>/]*)([^>]*)>|<|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|&")
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _entity_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _parse_markup(text: str, parse_mode: Any) -> str:
    """Validate ``text`` for ``parse_mode`` like Telegram and return the plain text the user sees."""
    mode = str(parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown_legacy(text)
    if mode:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    return text


def _parse_html(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for m in _HTML_TOKEN.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "<":
            raise _entity_error(f"Unsupported start tag at byte offset {_byte_offset(text, m.start())}")
        if token == "&":
            out.append("&")  # Telegram tolerates a lone ampersand
            continue
        if token.startswith("&"):
            out.append(html.unescape(token))  # unknown entities stay as they are
            continue
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _entity_error(
                f'Unsupported {kind} tag "{name}" at byte offset {_byte_offset(text, m.start())}'
            )
        if closing:
            if not stack or stack[-1] != name:
                expected = f'"</{stack[-1]}>"' if stack else "nothing"
                raise _entity_error(
                    f"Unmatched end tag at byte offset {_byte_offset(text, m.start())}, expected {expected}, "
                    f'found "</{name}>"'
                )
            stack.pop()
        else:
            if name == "a" and "href" not in m.group(3):
                pass  # Telegram accepts <a> without href (renders as text)
            stack.append(name)
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    out.append(text[pos:])
    return "".join(out)


def _parse_markdown_v2(text: str) -> str:
    out: list[str] = []
    open_entities: list[tuple[str, int]] = []  # (marker, index)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        top = open_entities[-1][0] if open_entities else None
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if top in ("`", "```"):
            if text.startswith(top, i):
                open_entities.pop()
                i += len(top)
            else:
                out.append(c)
                i += 1
            continue
        if text.startswith("```", i):
            open_entities.append(("```", i))
            i += 3
            while i < n and text[i] != "\n" and not text.startswith("```", i):  # language tag
                i += 1
            if i < n and text[i] == "\n":
                i += 1
            continue
        marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else c
        if marker in ("*", "_", "__", "~", "||", "`"):
            if top == marker:
                open_entities.pop()
            elif any(m == marker for m, _ in open_entities):
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, open_entities[-1][1])}"
                )
            else:
                open_entities.append((marker, i))
            i += len(marker)
            continue
        if c == "[":
            open_entities.append(("[", i))
            i += 1
            continue
        if c == "]" and top == "[":
            open_entities.pop()
            if i + 1 < n and text[i + 1] == "(":
                end = i + 2
                while end < n and text[end] != ")":
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise _entity_error(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}")
                i = end + 1
            else:
                i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if c in _MDV2_RESERVED:
            raise _entity_error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if open_entities:
        raise _entity_error(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, open_entities[-1][1])}"
        )
    return "".join(out)


def _parse_markdown_legacy(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c in "*_`" or text.startswith("```", i):
            marker = "```" if text.startswith("```", i) else c
            end = text.find(marker, i + len(marker))
            if end < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            out.append(text[i + len(marker) : end])
            i = end + len(marker)
            continue
        if c == "[":
            close = text.find("]", i + 1)
            if close < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            out.append(text[i + 1 : close])
            i = close + 1
            if i < n and text[i] == "(":
                paren = text.find(")", i)
                i = (paren + 1) if paren >= 0 else n
            continue
        out.append(c)
        i += 1
    return "".join(out)
