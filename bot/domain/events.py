"""What can happen to a conversation: the inputs of :func:`bot.domain.conversation.decide`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.actions import Action, decode_action, encode_action

CALLBACK_VERSION = "k1"
# Telegram's limit on a button's callback data, in bytes. The domain must not import telegram, so it
# is written here once; tests/test_events_state.py asserts that it equals PTB's
# telegram.constants.InlineKeyboardButtonLimit.MAX_CALLBACK_DATA.
CALLBACK_DATA_LIMIT = 64


@dataclass(frozen=True)
class Command:
    """A slash command such as /start, without the slash, lower-cased."""

    name: str


@dataclass(frozen=True)
class Text:
    """Free text typed by the person."""

    text: str


@dataclass(frozen=True)
class Press:
    """A button press: the question it belongs to and the chosen action (typed, or Unknown)."""

    prompt: int
    action: Action


@dataclass(frozen=True)
class BadPress:
    """Callback data the bot never issued (forged, corrupted or from another bot)."""


@dataclass(frozen=True)
class Location:
    """A shared location (used once, to find the person's time zone; never stored)."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class Unsupported:
    """Anything the bot cannot read: sticker, photo, voice, ..."""

    kind: str


Event = Command | Text | Press | BadPress | Location | Unsupported


def command_name(text: str) -> str | None:
    """``/Start@knotbot now`` → ``start``; None if the text is not a command."""
    if not text.startswith("/"):
        return None
    parts = text[1:].split(maxsplit=1)
    if not parts:
        return None
    name = parts[0].split("@", 1)[0].lower()
    return name or None


def encode_press(prompt: int, action: Action) -> str:
    """Callback data for a button; at most 64 bytes (CALLBACK_DATA_LIMIT) as Telegram requires."""
    data = f"{CALLBACK_VERSION}:{prompt}:{encode_action(action)}"
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode_press(data: str | None) -> Press | BadPress:
    """Parse callback data; anything malformed becomes :class:`BadPress`. A well-formed press whose
    action the bot does not issue carries :class:`bot.domain.actions.Unknown`."""
    if not data:
        return BadPress()
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != CALLBACK_VERSION or not parts[2]:
        return BadPress()
    if not (parts[1].isascii() and parts[1].isdigit()):
        return BadPress()
    return Press(prompt=int(parts[1]), action=decode_action(parts[2]))
