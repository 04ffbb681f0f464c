"""Logging that never leaks secrets: the bot token is masked wherever it appears.

PTB and httpx log request URLs, which contain the token (``/bot<token>/``).
A filter on the root handler rewrites every record before it is written. Lines
are ``key=value`` text, or one JSON object per line with ``KNOTBOT_LOG_FORMAT=json``;
either way they carry the update id and the hashed person id of the update being
handled (never names or message text).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")
BARE_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


def redact(text: str) -> str:
    """Mask bot tokens in ``text``."""
    return BARE_TOKEN.sub("<token>", TOKEN_IN_URL.sub("bot<token>", text))


# PTB's own lines that quote what Telegram sent (every text, name and id of a batch): their words
# are kept, what they quote is not (bot.adapters.updates skips such updates before PTB sees them)
RAW_DATA_LINES = ("Error while parsing updates!", "Something went wrong processing the data")


class RedactingFilter(logging.Filter):
    """Masks tokens in the formatted message of every record; PTB's raw-update lines lose their data."""

    def filter(self, record: logging.LogRecord) -> bool:
        raw_line = next((p for p in RAW_DATA_LINES if str(record.msg).startswith(p)), None)
        if raw_line is not None and record.name.startswith("telegram"):
            error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else "?"
            record.msg, record.args = "%s (data not logged) error=%s", (raw_line, error)
            record.exc_info = record.exc_text = None
            return True
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        return True


# the update being handled, added to every log line written meanwhile (see ``log_context``)
_CONTEXT: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "knotbot_log_context", default=()
)
_person_key = os.urandom(32)  # replaced by ``set_person_key`` at start-up; random: hashes per process


def set_person_key(secret: str) -> None:
    """The key of the person hash: ``KNOTBOT_LOG_SALT``, else derived from the bot token."""
    global _person_key
    _person_key = hashlib.sha256(b"knotbot-person-hash:" + secret.encode()).digest()


def person_hash(external_id: int | str) -> str:
    """A stable pseudonym for a Telegram user id in logs (HMAC-SHA256, 12 hex digits); never the id."""
    return hmac.new(_person_key, str(external_id).encode(), hashlib.sha256).hexdigest()[:12]


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``key=value`` fields (update id, hashed person) to every log line inside the block."""
    extra = tuple((k, str(v)) for k, v in fields.items() if v is not None)
    token = _CONTEXT.set(_CONTEXT.get() + extra)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Sets ``record.context`` (" update_id=… person=…" or "") for the text format, and
    ``record.context_fields`` (a dict) for the JSON one."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get()
        record.context = "".join(f" {k}={v}" for k, v in fields)
        record.context_fields = dict(fields)
        return True


class RedactingFormatter(logging.Formatter):
    """Masks tokens in the whole output, tracebacks included (exceptions may quote the token)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, the update's fields, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            **getattr(record, "context_fields", {}),
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s%(context)s %(message)s"


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingFormatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, pinned in PINNED_LOGGERS.items():  # whatever the level: see PINNED_LOGGERS
        logging.getLogger(name).setLevel(max(pinned, logging.getLevelName(level)))
    # PTB logs whole updates (message text, names) at DEBUG: never below INFO, even when debugging
    logging.getLogger("telegram").setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)


# third-party loggers that print what passes through them, pinned at WARNING at every
# KNOTBOT_LOG_LEVEL (DEBUG included): below it they write request URLs with the bot token in them
# (httpx, httpcore), SQL statements with their parameters: ids, the person's state
# (aiosqlite, sqlalchemy, asyncpg), or job arguments (apscheduler)
PINNED_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "asyncpg": logging.WARNING,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,  # migrations say what they do only on error
    "hpack": logging.WARNING,
}
