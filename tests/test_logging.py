"""Logs never contain the bot token: PTB and httpx log request URLs that include it."""

from __future__ import annotations

import logging

import pytest

from bot.logging_setup import RedactingFilter, redact

TOKEN = "123456789:AAH8x-very_secret_token_value_0123456789"


def test_token_in_a_bot_api_url_is_masked() -> None:
    url = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert redact(url) == "POST https://api.telegram.org/bot<token>/sendMessage"


def test_bare_token_is_masked() -> None:
    assert TOKEN not in redact(f"token={TOKEN} failed")


def test_ordinary_text_is_untouched() -> None:
    assert redact("update_id=42 error=TimedOut") == "update_id=42 error=TimedOut"


def test_filter_rewrites_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("HTTP Request: POST %s", f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    assert TOKEN not in caplog.text
    assert "bot<token>/getUpdates" in caplog.text


def test_tracebacks_are_redacted_too() -> None:
    from bot.logging_setup import RedactingFormatter

    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert TOKEN not in RedactingFormatter().format(record)
