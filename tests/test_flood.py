"""Flood control: the per-person sliding window (fake clock), and a flood through the fake Bot API
that gets one notice and never slows another person down."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from bot.adapters.flood import FloodGate, Verdict
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import ProcessedUpdate
from tests.e2e_helpers import running_bot
from tests.fakebotapi import FakeBotAPI


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_one_notice_then_silence_until_quiet() -> None:
    clock = FakeClock()
    gate = FloodGate(limit=20, window=10.0, clock=clock)
    verdicts = [gate.check("ann") for _ in range(25)]
    assert verdicts[:20] == [Verdict.PASS] * 20
    assert verdicts[20] is Verdict.NOTICE
    assert verdicts[21:] == [Verdict.DROP] * 4
    clock.now += 5  # still flooding: ignored updates count too
    assert gate.check("ann") is Verdict.DROP
    clock.now += 10.1  # quiet for a whole window
    assert gate.check("ann") is Verdict.PASS
    assert [gate.check("ann") for _ in range(19)] == [Verdict.PASS] * 19
    assert gate.check("ann") is Verdict.NOTICE  # a new flood gets a new notice


def test_a_steady_pace_is_never_a_flood() -> None:
    clock = FakeClock()
    gate = FloodGate(limit=20, window=10.0, clock=clock)
    for _ in range(500):
        assert gate.check("ann") is Verdict.PASS
        clock.now += 0.5  # 2 per second: 20 per 10 s at most


def test_one_persons_flood_does_not_touch_another() -> None:
    clock = FakeClock()
    gate = FloodGate(limit=3, window=10.0, clock=clock)
    for _ in range(50):
        gate.check("flooder")
    assert gate.check("other") is Verdict.PASS


def test_memory_stays_bounded() -> None:
    clock = FakeClock()
    gate = FloodGate(limit=5, window=1.0, clock=clock, max_tracked=100)
    for person in range(1000):
        for _ in range(10):
            gate.check(person)
        clock.now += 0.01
    assert len(gate) <= 100


async def test_a_flood_gets_one_notice_and_others_are_answered(
    api: FakeBotAPI,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(flood_limit=20)
    async with running_bot(settings):
        fly = api.user(6161, "Fly")
        calm = api.user(6262, "Calm")
        for i in range(60):
            await fly.send_text(f"spam {i}")
        await calm.send_command("start")
        await calm.wait_for("Tap Begin")
        await fly.wait_idle()
        await calm.wait_idle()
        notices = [m for m in fly.messages if "sending messages very fast" in m.text]
        assert len(notices) == 1
        assert len(fly.messages) <= 20 * 2 + 1  # at most 20 handled (hint + question each) and the notice
    db = Database(settings.database_url)
    async with db.transaction() as session:
        recorded = (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one()
    await db.dispose()
    assert recorded <= 21, "ignored updates write nothing to the database"
