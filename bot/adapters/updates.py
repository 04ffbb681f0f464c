"""Updates python-telegram-bot cannot parse: skipped with one redacted line, never logged whole.

A Bot API field newer than the installed PTB (Bot API 9.6 made ``poll_answer.option_persistent_ids``
required, say) makes ``Update.de_json`` raise. Left alone, PTB logs the whole ``getUpdates`` batch
at CRITICAL (texts, names and ids of everyone in it) and fetches the same batch again at once,
forever. :class:`SkipUnparsable` wraps the request PTB polls with (PTB's request hook: a
``BaseRequest``): in the answer to ``getUpdates``, an update PTB cannot parse is
replaced by an empty update with the same id (PTB then confirms that offset, the handler ignores
it), with one line naming its id, its type and the error type. Webhook mode uses
:func:`unparsable` the same way.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

_FIELD = re.compile(r"[a-z_]{1,40}")


def update_kind(raw: dict[str, Any]) -> str:
    """The update's type (its one field besides ``update_id``); Telegram's field name, never content."""
    kind = next((key for key in raw if key != "update_id"), "none")
    return kind if _FIELD.fullmatch(kind) else "unknown"


def unparsable(raw: dict[str, Any]) -> str | None:
    """Why PTB cannot parse ``raw`` (the exception type), or None if it can."""
    try:
        Update.de_json(raw, None)
    except Exception as exc:
        return type(exc).__name__
    return None


def log_skipped(update_id: object, raw: dict[str, Any], error: str) -> None:
    log.warning(
        "skipped an update python-telegram-bot cannot parse update_id=%s type=%s error=%s",
        update_id if isinstance(update_id, int) else "?",
        update_kind(raw),
        error,
    )


def skip_unparsable(batch: list[Any]) -> list[Any]:
    """A ``getUpdates`` result with every update PTB cannot parse replaced by an empty one."""
    out: list[Any] = []
    for raw in batch:
        error = unparsable(raw) if isinstance(raw, dict) else "not an object"
        if error is None:
            out.append(raw)
            continue
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        log_skipped(update_id, raw if isinstance(raw, dict) else {}, error)
        if isinstance(update_id, int):  # keeps the offset moving: PTB confirms it like any other
            out.append({"update_id": update_id})
    return out


class SkipUnparsable(BaseRequest):
    """The request PTB polls ``getUpdates`` with, around another one (PTB's ``HTTPXRequest``)."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await self.inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code != 200 or not url.endswith("/getUpdates"):
            return code, payload
        try:
            answer = json.loads(payload)
        except ValueError:
            return code, payload  # PTB reports a body that is not JSON itself
        if isinstance(answer, dict) and isinstance(answer.get("result"), list):
            cleaned = skip_unparsable(answer["result"])
            if cleaned != answer["result"]:
                payload = json.dumps({**answer, "result": cleaned}).encode()
        return code, payload
