"""Per-person flood control for the Telegram adapter: in-process, constant memory, no database.

A person who sends more than ``limit`` updates within ``window`` seconds gets
one notice; their further updates are ignored (not even recorded) until they
have been quiet long enough that the window holds ``limit`` updates or fewer
again. Ignored updates still count, so a steady flood stays ignored. Each
person has their own window of at most ``limit + 1`` timestamps, so one
person's flood costs the others nothing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

DEFAULT_LIMIT = 20
DEFAULT_WINDOW = 10.0
MAX_TRACKED = 10_000  # people remembered before idle ones are forgotten


class Verdict(Enum):
    PASS = "pass"  # handle the update
    NOTICE = "notice"  # ignore it, and tell the person once
    DROP = "drop"  # ignore it silently


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    noticed: bool = False


class FloodGate:
    """Sliding-window counter per person (any hashable key)."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_tracked = max_tracked
        self._windows: dict[object, _Window] = {}

    def check(self, key: object) -> Verdict:
        now = self.clock()
        win = self._windows.get(key)
        if win is None:
            if len(self._windows) >= self.max_tracked:
                self._forget_idle(now)
            win = self._windows[key] = _Window()
        times = win.times
        times.append(now)
        if len(times) > self.limit + 1:
            times.popleft()
        flooding = len(times) > self.limit and times[0] > now - self.window
        if not flooding:
            win.noticed = False
            return Verdict.PASS
        if win.noticed:
            return Verdict.DROP
        win.noticed = True
        return Verdict.NOTICE

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, w in self._windows.items() if not w.times or w.times[-1] <= now - self.window]
        for key in idle:
            del self._windows[key]
        if len(self._windows) >= self.max_tracked:  # everyone is active: forget the oldest half
            by_age = sorted(self._windows, key=lambda k: self._windows[k].times[-1])
            for key in by_age[: len(by_age) // 2]:
                del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)
