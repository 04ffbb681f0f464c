"""Telegram's send limits: the limiter on a virtual clock, the real bot against a fake enforcing them.

The unit tests run :class:`~bot.ratelimit.SendLimiter` on an event loop whose
clock only moves when every task waits, and then jumps straight to the next
timer. The limiter reads time only from the loop, so the send times below are
exact and the tests take no real time and cannot flake on a slow machine.

The end-to-end tests run the real PTB Application against the fake Bot API
enforcing about 1 message/s per chat with a short burst tolerated
(``per_chat_burst``; Telegram's Bot FAQ: "short bursts tolerated"), and 30/s per
bot. A session with hold prompts and follow-ups must not get a single 429; with
the bot's per-chat pacing turned off the fake does answer 429, so the limit is
really in force.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import selectors
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import bot.ratelimit
from bot.ratelimit import CHAT_BURST, NoLimit, SendLimiter
from tests.e2e_helpers import running_bot, to_hold
from tests.fakebotapi import ApiError, FakeBotAPI, FakeUser
from tests.followup_helpers import finish, offset_where_it_is

T = TypeVar("T")
TICK = 1e-9  # what one pass of the virtual loop takes
EPS = 1e-3  # far more than the ticks add up to in these tests
ROUNDING = 1e-9  # float rounding of the limiter's own arithmetic

# What the fake tolerates per chat (see docs/followups.md): a burst of this many, then 1/s. The
# bot keeps one message of headroom (KNOTBOT_CHAT_BURST = 4), as it keeps 28/s under the 30/s
# per bot, so that up to a second of network jitter cannot push it over.
TELEGRAM_CHAT_BURST = CHAT_BURST + 1


# -- a loop with a clock the tests own ----------------------------------------------------


class _JumpingSelector(selectors.DefaultSelector):
    """Instead of blocking until the next timer, move the loop's clock to it.

    Every pass of the loop also takes a nanosecond, as on a real clock: code that
    waits for a level to drain to within rounding error of a limit (aiolimiter
    does) would otherwise spin at one instant forever.
    """

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("every task waits and no timer is set: the code under test would hang")
        self._loop.now += max(TICK, timeout)
        return super().select(0)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` starts at 0 and jumps to the next timer when all tasks wait."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main())  # type: ignore[arg-type]
    finally:
        loop.close()


def now() -> float:
    return asyncio.get_running_loop().time()


async def send_times(limiter: SendLimiter, chats: list[int]) -> list[float]:
    """Acquire for each chat, all at once (concurrently); the clock time at which each was let through."""

    async def one(chat: int) -> float:
        await limiter.acquire(chat)
        return now()

    return list(await asyncio.gather(*(one(chat) for chat in chats)))


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of sends within any window [t, t + seconds)."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered[i:] if u < t + seconds - ROUNDING) for i, t in enumerate(ordered))


# -- the limiter ----------------------------------------------------------------------------


def test_the_virtual_clock_moves_only_by_waiting() -> None:
    async def main() -> tuple[float, float]:
        start = now()
        await asyncio.sleep(3600)
        return start, now()

    start, end = run_virtual(main)
    assert start < EPS
    assert end == pytest.approx(3600.0, abs=EPS)


def test_bot_wide_never_more_than_the_rate_in_any_second_and_no_slower() -> None:
    limiter = SendLimiter(rate=28, chat_burst=4)
    times = run_virtual(lambda: send_times(limiter, list(range(1, 201))))  # 200 different chats
    assert most_in_any_window(times, 1.0) <= 28
    assert min(times) < EPS, "the first send waits for nothing"
    assert max(times) <= 200 / 28 + EPS, "and the limiter holds the pace, it does not fall behind it"


def test_one_chat_gets_a_short_burst_then_one_message_a_second() -> None:
    limiter = SendLimiter(rate=28, chat_burst=4)

    async def main() -> list[float]:
        times = []
        for _ in range(12):
            await limiter.acquire(42)
            times.append(now())
        return times

    times = run_virtual(main)
    assert times[3] < 0.2, "a reply of four messages goes out at once"
    # never more than the burst plus one per second elapsed, over any stretch of time
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= 4 + (times[j] - times[i]) + ROUNDING, (i, j, times)
    gaps = [b - a for a, b in itertools.pairwise(times[4:])]
    assert all(abs(gap - 1.0) < EPS for gap in gaps), gaps  # then 1/s, no slower
    assert times[4] <= 1.0 + EPS


def test_a_busy_chat_does_not_hold_up_the_others() -> None:
    limiter = SendLimiter(rate=28, chat_burst=4)

    async def main() -> tuple[list[float], float]:
        busy = asyncio.ensure_future(send_times(limiter, [7] * 10))  # 4 at once, 6 more at 1/s
        await asyncio.sleep(0.5)
        await limiter.acquire(8)
        other = now()
        return await busy, other

    busy, other = run_virtual(main)
    assert max(busy) >= 6.0 - EPS
    assert other <= 0.5 + 1 / 28 + EPS, "another chat waits only for the bot-wide pace"


def test_a_429_pauses_every_chat_and_a_longer_one_extends_the_pause() -> None:
    limiter = SendLimiter(rate=28, chat_burst=4)

    async def main() -> tuple[list[float], list[float]]:
        limiter.pause(5)
        first = asyncio.ensure_future(send_times(limiter, [1, 2, 3]))
        await asyncio.sleep(1)
        limiter.pause(2)  # shorter than what is left: changes nothing
        early = await first
        limiter.pause(10)
        second = asyncio.ensure_future(send_times(limiter, [1, 4]))
        await asyncio.sleep(1)
        limiter.pause(20)  # another 429 while these wait: they wait for the longer pause
        return early, await second

    early, late = run_virtual(main)
    assert min(early) >= 5.0 - EPS
    assert max(early) <= 5.0 + 3 / 28 + EPS
    assert min(late) >= max(early) + 1 + 20 - EPS


def test_a_send_already_waiting_for_its_chat_respects_a_429_that_came_meanwhile() -> None:
    limiter = SendLimiter(rate=28, chat_burst=4)

    async def main() -> list[float]:
        waiting = asyncio.ensure_future(send_times(limiter, [9] * 5))  # the fifth waits until t=1
        await asyncio.sleep(0.5)
        limiter.pause(3)  # Telegram said 429 to some other send
        return await waiting

    times = sorted(run_virtual(main))
    assert times[:4] == pytest.approx([0, 1 / 28, 2 / 28, 3 / 28], abs=EPS)
    assert times[4] >= 3.5 - EPS, "not sent at t=1, in the middle of the pause"


def test_the_chat_buckets_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.ratelimit, "CHAT_LIMITERS_KEPT", 3)
    limiter = SendLimiter(rate=1000, chat_burst=4)
    run_virtual(lambda: send_times(limiter, list(range(10))))
    assert list(limiter._chats) == [7, 8, 9], "the most recently used chats are the ones kept"


def test_no_limit_never_waits() -> None:
    times = run_virtual(lambda: send_times(NoLimit(), [1] * 500))
    assert max(times) < EPS


# -- the fake's model of Telegram's per-chat limit, and the bot's pacing against it --------


def accepted_by_fake(arrivals: list[tuple[float, int]], monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Feed (time, chat) arrivals to the fake's rate check, its clock set to each arrival's time."""
    import tests.fakebotapi as fake_module

    api = FakeBotAPI()
    enforce_telegram_limits(api)
    clock = {"now": 0.0}
    results = []
    with monkeypatch.context() as patched:
        patched.setattr(fake_module.time, "monotonic", lambda: clock["now"])
        for when, chat in arrivals:
            clock["now"] = when
            try:
                api._check_rate_limit(chat)
            except ApiError as err:
                assert err.code == 429
                assert err.parameters and err.parameters["retry_after"] >= 1
                results.append(False)
            else:
                results.append(True)
    return results


def test_the_fake_tolerates_a_short_burst_per_chat_then_one_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    burst = [(0.0, 1)] * TELEGRAM_CHAT_BURST
    arrivals = [*burst, (0.1, 1), (0.1, 2), (1.0, 1), (1.5, 1), (2.0, 1)]
    assert accepted_by_fake(arrivals, monkeypatch) == [True] * TELEGRAM_CHAT_BURST + [
        False,  # the sixth within a second
        True,  # another chat has a bucket of its own
        True,  # a second later there is room for one more
        False,
        True,
    ]


@pytest.mark.parametrize(("bot_burst", "fits"), [(CHAT_BURST, True), (TELEGRAM_CHAT_BURST, False)])
def test_the_bots_pacing_fits_the_fake_even_with_network_jitter(
    monkeypatch: pytest.MonkeyPatch, bot_burst: int, fits: bool
) -> None:
    """Sends leave the bot paced; they reach Telegram up to 0.9 s late, in order, the worst way round.

    With the default burst (one under what is tolerated) no arrival pattern is refused; with a
    burst as large as Telegram's, the first burst arriving late and the next send on time is.
    """
    limiter = SendLimiter(rate=28, chat_burst=bot_burst)

    async def main() -> list[float]:
        times = []
        for _ in range(30):
            await limiter.acquire(5)
            times.append(now())
        return times

    sent = run_virtual(main)
    rng = random.Random(4)
    patterns = [
        [0.9 if i < bot_burst else 0.0 for i in range(len(sent))],  # the first burst held up
        [rng.uniform(0, 0.9) for _ in sent],
        [0.9 * (i % 2) for i in range(len(sent))],
    ]
    outcomes = []
    for delays in patterns:
        arrivals: list[tuple[float, int]] = []
        for t, delay in zip(sent, delays, strict=True):
            previous = arrivals[-1][0] if arrivals else -math.inf
            arrivals.append((max(previous, t + delay), 5))  # one chat's sends are sequential
        outcomes.append(all(accepted_by_fake(arrivals, monkeypatch)))
    assert all(outcomes) is fits, outcomes


# -- end to end: the real bot, the fake enforcing the limits --------------------------------


def enforce_telegram_limits(api: FakeBotAPI) -> None:
    api.enforce_rate_limit(per_second=30, per_chat_per_second=1, per_chat_burst=TELEGRAM_CHAT_BURST)


def refusals(api: FakeBotAPI) -> list[Any]:
    return [c for c in api.calls if c.error_code == 429]


HELP = "Here is what I can do"


def helps(user: FakeUser) -> int:
    return sum(HELP in t for t in user.texts)


async def ask_for_help(user: FakeUser, times: int) -> None:
    """Many updates at once, each answered with one message: more than a burst for one chat."""
    before = helps(user)
    for _ in range(times):
        await user.send_command("help")
    deadline = asyncio.get_running_loop().time() + 60
    while helps(user) < before + times:
        assert asyncio.get_running_loop().time() < deadline, user.transcript()
        await asyncio.sleep(0.05)
    await user.wait_idle(quiet=1.5, timeout=30)


async def test_a_session_with_hold_prompts_and_follow_ups_gets_no_429(api: FakeBotAPI, make_settings) -> None:
    enforce_telegram_limits(api)
    # the bot's own pacing at its defaults (make_settings turns it off for the other suites)
    settings = make_settings(time_scale=0.0001, chat_burst=CHAT_BURST, dispatch_poll_seconds=0.2)
    async with running_bot(settings):
        kim = api.user(4101, "Kim")
        await to_hold(kim)
        await finish(kim)
        await kim.send_text(offset_where_it_is(18))  # the hydration reminder is out of quiet hours
        await kim.wait_for("Your time zone is UTC")
        await kim.wait_for("drink a glass of water", timeout=20)
        await kim.wait_for("feel today?", timeout=30)
        await kim.press("Better")
        await kim.wait_for("keep your upper back that way")
        await kim.wait_idle(quiet=1.5)
    texts = kim.texts
    assert sum("Release the pressure gradually" in t for t in texts) == 1
    assert sum("drink a glass of water" in t for t in texts) == 1
    assert sum("feel today?" in t for t in texts) == 1
    assert not refusals(api), [(c.method, c.error) for c in refusals(api)]
    assert api.rate_limited_count == 0
    api.assert_no_server_errors()


async def test_without_the_bots_per_chat_pacing_the_fake_does_refuse(api: FakeBotAPI, make_settings) -> None:
    """The control: the same limits in the fake, the bot's per-chat bucket made too large to matter.

    (The session above, run this way, gets more than a dozen 429s; eight quick replies are enough
    to show it and take less time.)
    """
    enforce_telegram_limits(api)
    async with running_bot(make_settings(chat_burst=200)):
        lee = api.user(4102, "Lee")
        await ask_for_help(lee, 8)
    assert refusals(api), "eight replies at once are more than the fake tolerates for one chat"
    assert all(c.chat_id == lee.id for c in refusals(api))
    assert helps(lee) == 8, "refused replies are retried: none lost, none twice"
