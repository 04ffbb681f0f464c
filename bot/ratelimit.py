"""Stay under Telegram's send limits: about 30 messages/s per bot and about 1/s per chat.

Two leaky buckets from ``aiolimiter``:

* bot-wide, a bucket of one refilled every ``1/rate`` seconds, so that no
  sliding one-second window ever holds more than ``rate`` sends (a bucket the
  size of ``rate`` would allow a burst of 30 plus 30 more within one second);
* per chat, a bucket of ``chat_burst`` (KNOTBOT_CHAT_BURST, default 4) refilled
  at one per second: a reply of a few short messages goes out at once, a longer
  run slows to 1/s.

A 429 from Telegram pauses every send for its ``retry_after`` (it applies to
the whole bot), also a send that was already waiting for a bucket when the 429
came. This limits one process; several replicas share the budget by running
one dispatcher at a time (see docs/deploy.md).

Every wait is measured on the running event loop's clock (``loop.time()``, which
is what ``aiolimiter`` uses too), so tests can run the limiter on a loop whose
clock they control (tests/test_ratelimit.py).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from aiolimiter import AsyncLimiter

BOT_RATE = 28.0  # a little under Telegram's ~30/s
CHAT_BURST = 4
CHAT_LIMITERS_KEPT = 10_000  # a bucket forgotten after 10,000 other chats has long been empty


class SendLimiter:
    """Await :meth:`acquire` before each send to a chat."""

    def __init__(self, rate: float = BOT_RATE, chat_burst: int = CHAT_BURST) -> None:
        self.rate = rate
        self.chat_burst = chat_burst
        self._bot = AsyncLimiter(1, 1.0 / rate)
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._paused_until = 0.0  # on the event loop's clock

    def _chat(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(self.chat_burst, self.chat_burst)
        self._chats[chat_id] = limiter  # most recently used last
        while len(self._chats) > CHAT_LIMITERS_KEPT:
            self._chats.popitem(last=False)
        return limiter

    def paced_for(self, chat_id: int) -> float:
        """Seconds until a send to this chat goes out without waiting for its own bucket (0: now).

        A chat's bucket refills one send a second, so a chat that is out of its burst can send
        again within a second."""
        limiter = self._chats.get(chat_id)
        if limiter is None or limiter.has_capacity():
            return 0.0
        return self.pace(chat_id)

    def pace(self, chat_id: int) -> float:
        """Seconds between two sends to one chat once its burst is used up (one a second)."""
        return 1.0

    async def acquire(self, chat_id: int) -> None:
        await self._wait_out_pause()
        await self._chat(chat_id).acquire()
        await self._bot.acquire()
        await self._wait_out_pause()  # a 429 may have come while this send waited for a bucket

    async def _wait_out_pause(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self._paused_until - loop.time()) > 0:  # noqa: ASYNC110 - a pause may grow
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Telegram said 429: hold every send for ``seconds`` (call it from the event loop)."""
        now = asyncio.get_running_loop().time()
        self._paused_until = max(self._paused_until, now + seconds)


class NoLimit(SendLimiter):
    """For benchmarks of the dispatcher itself."""

    def __init__(self) -> None:
        super().__init__()

    async def acquire(self, chat_id: int) -> None:
        return None
