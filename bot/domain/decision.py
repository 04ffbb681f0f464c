"""The inputs besides state and event (:class:`Env`) and the output (:class:`Decision`) of the core."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain import DEFAULT_RETENTION_DAYS
from bot.domain.content import Content
from bot.domain.effects import Effect
from bot.domain.matcher import Matcher
from bot.domain.plan import Plan
from bot.domain.profile import Profile
from bot.domain.state import State
from bot.domain.timezones import ZoneMatcher


@dataclass(frozen=True)
class Env:
    """What ``decide`` may consult besides the state: content, matchers, the clock, the profile."""

    content: Content
    matcher: Matcher
    now: float  # epoch seconds
    time_scale: float = 1.0
    profile: Profile = field(default_factory=Profile)
    zones: ZoneMatcher | None = None
    # latitude, longitude -> IANA zone name (an offline lookup injected by the runtime)
    locate_tz: Callable[[float, float], str | None] | None = None
    # session details older than this are pruned (told by /privacy)
    retention_days: int = DEFAULT_RETENTION_DAYS
    # what the bot sent of the follow-up checks this event answers (key -> status), looked up by the
    # service: a check answer counts only for a check that was sent, and only once
    checks: Mapping[str, CheckStatus] = field(default_factory=dict)
    plan: Plan | None = None  # the person's practice plan, if any
    recent_areas: tuple[str, ...] = ()  # areas of the latest sessions, newest first (read for /plan)


class CheckStatus(StrEnum):
    """A next-day check the bot sent: still open, or answered already."""

    OPEN = "open"
    ANSWERED = "answered"


@dataclass(frozen=True)
class Decision:
    """The result of one event: the state to store and what to do."""

    state: State
    effects: tuple[Effect, ...]
