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


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_both_formats_carry_the_update_context_and_mask_the_token(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bot.logging_setup import configure_logging, log_context

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", fmt)
        with log_context(update_id=42, person="a1b2c3d4e5f6"):
            logging.getLogger("bot.test").info("getMe failed at %s", f"/bot{TOKEN}/getMe")
        try:
            raise RuntimeError(f"rejected {TOKEN}")
        except RuntimeError:
            logging.getLogger("bot.test").exception("outside any update")
    finally:
        root.handlers[:], root.level = saved
    lines = capsys.readouterr().err.strip().splitlines()
    assert TOKEN not in "\n".join(lines)
    if fmt == "json":
        first, second = json.loads(lines[0]), json.loads(lines[1])
        assert first["update_id"] == "42" and first["person"] == "a1b2c3d4e5f6"
        assert first["level"] == "INFO" and first["message"] == "getMe failed at /bot<token>/getMe"
        assert "update_id" not in second and "<token>" in second["exception"]
    else:
        assert " level=INFO logger=bot.test update_id=42 person=a1b2c3d4e5f6 getMe failed" in lines[0]
        assert "update_id" not in lines[1]


def test_ptbs_raw_update_lines_keep_their_words_but_not_the_data() -> None:
    """PTB logs a batch it cannot parse whole, at CRITICAL (texts, names, ids): the data goes."""
    batch = [
        {
            "update_id": 5,
            "message": {"text": "my secret pain", "from": {"id": 738291046, "first_name": "Zed"}},
        }
    ]
    try:
        raise TypeError("missing a field")
    except TypeError:
        import sys

        record = logging.LogRecord(
            "telegram.Bot",
            logging.CRITICAL,
            __file__,
            1,
            "Error while parsing updates! Received data was %r",
            (batch,),
            sys.exc_info(),
        )
    assert RedactingFilter().filter(record)
    from bot.logging_setup import RedactingFormatter

    line = RedactingFormatter("%(message)s").format(record)
    assert line == "Error while parsing updates! (data not logged) error=TypeError"
    assert "738291046" not in line and "secret pain" not in line and "Zed" not in line
