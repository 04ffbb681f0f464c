"""Logging that never leaks secrets: the bot token is masked wherever it appears.

PTB and httpx log request URLs, which contain the token (``/bot<token>/``).
A filter on the root handler rewrites every record before it is written.
"""

from __future__ import annotations

import logging
import re

TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")
BARE_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")


def redact(text: str) -> str:
    """Mask bot tokens in ``text``."""
    return BARE_TOKEN.sub("<token>", TOKEN_IN_URL.sub("bot<token>", text))


class RedactingFilter(logging.Filter):
    """Masks tokens in the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """Masks tokens in the whole output, tracebacks included (exceptions may quote the token)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep it quiet unless debugging
    logging.getLogger("httpx").setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
