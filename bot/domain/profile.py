"""A person's settings that outlive a conversation: follow-ups, time zone, reminder hour, quiet hours,
and whether a practice plan was offered.

Stored as columns of the ``people`` table; the core reads them through
:class:`~bot.domain.conversation.Env` and changes them with the
:class:`~bot.domain.effects.SetProfile` effect.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOUR = 10
QUIET_START = 21
QUIET_END = 8


@dataclass(frozen=True)
class Profile:
    """Follow-up preferences. ``tz`` is an IANA zone name or a fixed offset such as ``UTC+02:00``."""

    followups: bool = False
    tz: str | None = None
    hour: int = DEFAULT_HOUR  # local hour of the next-day check
    quiet_start: int = QUIET_START  # no follow-ups from this local hour ...
    quiet_end: int = QUIET_END  # ... until this one; equal values: no quiet hours
    plan_offered: bool = False  # a practice plan was offered after a session (only ever once)
