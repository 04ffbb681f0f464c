"""End to end: the real PTB Application polls the fake Bot API over HTTP; simulated people chat.

Time is scaled down (KNOTBOT_TIME_SCALE) so a 30 s hold takes a fraction of a
second; the database is a real SQLite file or PostgreSQL database (``make_settings`` is
parametrised over both, and so is every suite that imports it); the scheduler is PTB's JobQueue
(APScheduler) waking the database-backed dispatcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.telegram import build_application
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import FollowupChoice, SessionRound
from tests.fakebotapi import FakeBotAPI, FakeUser

TIME_SCALE = 0.01


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def make_settings(api: FakeBotAPI, e2e_database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": "123456:TEST-TOKEN-not-real",
            "telegram_api_url": api.base_url,
            "database_url": e2e_database_url,
            "time_scale": TIME_SCALE,
            "dispatch_poll_seconds": 0.5,
            "flood_limit": 0,  # simulated people poke far faster than people do (tests/test_flood.py)
            # simulated people tap much faster than real ones; the per-chat 1/s pacing is
            # exercised in tests/test_drain.py and would only slow these conversations down
            "chat_burst": 200,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[Any]:
    """Start the app the way ``Application.run_polling`` does, hooks included, and stop it cleanly."""
    app = build_application(settings)
    await app.initialize()
    try:
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            await app.post_stop(app)
    finally:
        await app.shutdown()
        await app.post_shutdown(app)


async def begin(user: FakeUser) -> None:
    await user.send_command("start")
    await user.wait_for("Tap Begin")
    await user.press("Begin")
    await user.wait_for("Do any of these apply")


async def to_hold(user: FakeUser, area_text: str = "between my shoulder blades", seconds: int = 30) -> None:
    await begin(user)
    await user.press("None of these")
    await user.wait_for("Where is the knot?")
    await user.send_text(area_text)
    await user.wait_for("find the exact spot")
    await user.press("Found it")
    await user.wait_for("What will you use")
    await user.press("recommended")
    await user.wait_for("Two ways")
    await user.press("Steady pressure")
    await user.wait_for("How long")
    await user.press(f"{seconds} s")
    await user.wait_for("Get into position")
    await user.press("Start")
    await user.wait_for("Press in now")


async def test_full_session_from_start_to_aftercare(api: FakeBotAPI, make_settings, tmp_path: Path) -> None:
    settings = make_settings()
    async with running_bot(settings):
        ann = api.user(1001, "Ann")
        await to_hold(ann)
        await ann.wait_for("Halfway")
        end = await ann.wait_for("Release the pressure gradually", timeout=10)
        assert "How was the pressure?" in end.text
        await ann.press("Just right")
        await ann.wait_for("How does the knot feel")
        await ann.press("Softer")
        await ann.wait_for("What next?")
        await ann.press("Finish")
        await ann.wait_for("light stretch")
        await ann.wait_for("check in later")
        await ann.press("Yes, check in")
        await ann.wait_for("Share my location")  # the time zone is asked once, the first time
        await ann.send_text("Berlin")
        await ann.wait_for("I'll check in (Europe/Berlin time)")
        await ann.wait_idle()
        transcript = ann.transcript()
    for expected in (
        "not medical advice",
        "Chest pain, pressure or tightness",
        "Upper back — between the shoulder blades",
        "Ball (recommended)",
        "4 to 7 out of 10",
        "Don't hold your breath or grimace",
        "Breathe out slowly",
        "Halfway",
        "Release the pressure gradually",
        "Drink some extra water",
        "warm compress",
        "ice pack",
        "dry needling",
    ):
        assert expected in transcript, expected
    commands = api.calls_to("setMyCommands")[0].params["commands"]
    assert {c["command"] for c in commands} >= {"massage", "cancel", "help"}
    db = Database(settings.database_url)
    async with db.transaction() as session:
        rounds = (await session.execute(select(SessionRound))).scalars().all()
        choices = (await session.execute(select(FollowupChoice))).scalars().all()
    await db.dispose()
    assert [(r.area, r.tool, r.intensity, r.knot) for r in rounds] == [
        ("upper_back", "ball", "right", "softer")
    ]
    assert [c.wanted for c in choices] == [True]
    api.assert_no_server_errors()


@pytest.mark.parametrize(
    ("flag_label", "expected"),
    [
        ("Chest pain", "call your local emergency number now"),
        ("Calf swollen", "see a doctor or an urgent care service today"),
        ("Pain down a limb", "physical therapist or physician"),
        ("Blood thinners", "ask your doctor or physical therapist before"),
        ("Wound, rash", "Working on a different area is fine"),
    ],
)
async def test_each_screening_severity(
    api: FakeBotAPI, make_settings, flag_label: str, expected: str
) -> None:
    async with running_bot(make_settings()):
        bob = api.user(2002, "Bob")
        await begin(bob)
        await bob.press("One of these applies")
        await bob.wait_for("Which one applies")
        await bob.press(flag_label)
        await bob.wait_for(expected)
        await bob.wait_idle()
        if flag_label.startswith("Wound"):
            assert "Where is the knot?" in bob.last_text
        else:
            assert "Begin" not in bob.buttons() or "stopped" in bob.transcript()
            assert "Where is the knot?" not in bob.transcript().split(flag_label)[-1]


async def test_free_text_warning_phrase_is_never_an_area(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings()):
        cy = api.user(3003, "Cy")
        await begin(cy)
        await cy.press("None of these")
        await cy.wait_for("Where is the knot?")
        await cy.send_text("my calf is swollen, red and warm")
        await cy.wait_for("blood clot")
        await cy.wait_idle()
        assert "find the exact spot" not in cy.transcript()


async def test_free_text_area_and_close_call(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings()):
        di = api.user(4004, "Di")
        await begin(di)
        await di.press("None of these")
        await di.send_text("my traps are killing me")
        await di.wait_for("Got it: Upper shoulders")
        await di.send_command("massage")
        await di.wait_for("Do any of these apply")
        await di.press("None of these")
        await di.send_text("pizza")
        await di.wait_for("couldn't match that")
        await di.wait_idle()
        assert "Neck" in di.buttons()


async def test_stop_mid_hold_cancels_the_rest(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=0.05)):  # 30 s hold → 1.5 s
        ed = api.user(5005, "Ed")
        await to_hold(ed)
        await ed.press("Stop")
        await ed.wait_for("Stopped")
        await ed.wait_for("How was the pressure?")
        await ed.wait_idle(quiet=2.0, timeout=15)
        after_stop = ed.transcript().split("Stopped.")[-1]
        assert "Halfway" not in after_stop
        assert "Release the pressure gradually" not in after_stop


async def test_too_intense_keeps_the_prompts_going(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=0.05)):
        fay = api.user(6006, "Fay")
        await to_hold(fay)
        await fay.press("Too intense")
        await fay.wait_for("Ease off")
        await fay.wait_for("Release the pressure gradually", timeout=10)
        assert any(a.get("text") for a in fay.callback_answers)


async def _ask_unexpected(user: FakeUser, question: str) -> None:
    """Sticker, photo, voice, unknown command and a stale button: each gets a hint and the question again."""
    for send, hint in (
        (user.send_sticker, "only read text"),
        (user.send_photo, "only read text"),
        (user.send_voice, "only read text"),
        (lambda: user.send_command("frobnicate"), "don't know the command"),
        (lambda: user.press_data("k1:99999:area:neck"), "earlier message"),
        (lambda: user.press_data("garbage\x00data"), "earlier message"),
    ):
        await send()
        await user.wait_for(hint)
        await user.wait_for(question)


async def test_unexpected_input_at_every_step(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=0.2)):  # 30 s hold → 6 s: time to poke at it
        gus = api.user(7007, "Gus")
        await gus.send_command("start")
        await gus.wait_for("Begin")
        await _ask_unexpected(gus, "Tap Begin")
        await gus.press("Begin")
        await _ask_unexpected(gus, "Do any of these apply")
        await gus.send_text("blah blah")
        await gus.wait_for("use the buttons")
        await gus.press("None of these")
        await _ask_unexpected(gus, "Where is the knot?")
        await gus.send_text("hamstrings")
        await _ask_unexpected(gus, "find the exact spot")
        await gus.press("Found it")
        await _ask_unexpected(gus, "What will you use")
        await gus.press("Foam roller")
        await _ask_unexpected(gus, "Two ways")
        await gus.press("Slow strokes")
        await _ask_unexpected(gus, "How long")
        await gus.press("30 s")
        await _ask_unexpected(gus, "Get into position")
        await gus.press("Start")
        await gus.wait_for("gliding slowly")
        await gus.send_text("ouch")
        await gus.wait_for("middle of a hold")
        await gus.wait_for("Stroke 1", timeout=10)
        await gus.wait_for("How was the pressure?", timeout=15)
        await gus.send_sticker()
        await gus.wait_for("How was the pressure?")
        await gus.press("Too much")
        await gus.wait_for("press more lightly")
        await _ask_unexpected(gus, "How does the knot feel")
        await gus.press("Worse")
        await gus.wait_for("What next?")
        assert "Another round here" not in gus.buttons()
        await _ask_unexpected(gus, "What next?")
        await gus.press("Finish")
        await gus.wait_for("check in later")
        await gus.send_text("no")
        await gus.wait_for("no follow-ups")
        await gus.wait_idle()


async def test_restart_mid_hold_resumes_from_the_database(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=0.1)  # 30 s hold → 3 s
    async with running_bot(settings):
        hal = api.user(8008, "Hal")
        await to_hold(hal)
    # the bot is down; prompts come due meanwhile
    seen = len(hal.messages)
    async with running_bot(make_settings(time_scale=0.1)):
        await hal.wait_for("Release the pressure gradually", timeout=15, since=seen)
        await hal.press("Just right")
        await hal.wait_for("How does the knot feel")
        await hal.wait_idle()
    after = [m.text for m in hal.messages[seen:]]
    # every remaining prompt arrives once, or the short "too late" note does
    assert len([t for t in after if "Release the pressure gradually" in t]) == 1
    assert len([t for t in after if "Halfway" in t]) <= 1
    assert len([t for t in after if "offline for part of your hold" in t]) <= 1


async def test_restart_long_downtime_drops_late_prompts_with_a_note(api: FakeBotAPI, make_settings) -> None:
    import asyncio

    settings = make_settings(time_scale=0.1)  # prompts late by more than 1 s are dropped
    async with running_bot(settings):
        ivy = api.user(9009, "Ivy")
        await to_hold(ivy)
    seen = len(ivy.messages)
    await asyncio.sleep(3.5)  # the whole hold passes while the bot is down
    async with running_bot(make_settings(time_scale=0.1)):
        await ivy.wait_for("Release the pressure gradually", timeout=15, since=seen)
        await ivy.wait_idle()
    after = [m.text for m in ivy.messages[seen:]]
    assert after[0].startswith("Sorry, I was offline")
    assert not any("Halfway" in t for t in after)


async def test_a_failing_update_is_logged_without_text_and_the_person_told(
    api: FakeBotAPI, make_settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.service import ConversationService

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    async with running_bot(make_settings()):
        jo = api.user(1111, "Jo")
        monkeypatch.setattr(ConversationService, "handle", broken)
        await jo.send_text("my secret symptom text")
        await jo.wait_for("something went wrong")
        monkeypatch.undo()
        await jo.send_command("start")  # the bot keeps working
        await jo.wait_for("Tap Begin")
    assert "my secret symptom text" not in caplog.text
    assert "update failed" in caplog.text and "RuntimeError" in caplog.text
