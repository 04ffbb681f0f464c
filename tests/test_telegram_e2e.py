"""End to end: the real PTB Application polls the fake Bot API over HTTP; simulated people chat.

Time is scaled down (KNOTBOT_TIME_SCALE) so a 30 s hold takes a fraction of a
second; the database is a real SQLite file or PostgreSQL database (``make_settings``, in
tests/e2e_fixtures.py, is parametrised over both, and so is every suite that uses it); the
scheduler is PTB's JobQueue (APScheduler) waking the database-backed dispatcher. Starting the bot
and walking a person to the hold are in tests/e2e_helpers.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.content_loader import DEFAULT_CONTENT_DIR, load_content
from bot.domain.actions import Band
from bot.domain.events import Press, decode_press
from bot.domain.matcher import Matcher
from bot.domain.state import Step
from bot.storage.db import Database
from bot.storage.models import Conversation, FollowupChoice, Person, ScheduledMessage, SessionRound
from tests.core_steps import NON_ANSWER_HINTS
from tests.e2e_helpers import begin, running_bot, to_area_question, to_hold
from tests.fakebotapi import FakeBotAPI, FakeUser


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
    menu = {c["command"] for c in commands}
    # the menu offers exactly the commands /help lists, each with a description from content/
    listed = set(
        re.findall(r"^/([a-z]+) —", load_content(DEFAULT_CONTENT_DIR).text("help"), flags=re.MULTILINE)
    )
    assert menu == listed, (menu, listed)
    assert all(c["description"] for c in commands)
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


@pytest.mark.parametrize(
    ("user_id", "typed", "answer", "never"),
    [
        # a warning sign the text states is never an area
        (3003, "my calf is swollen, red and warm", "blood clot", "find the exact spot"),
        # a warning sign the text denies does not stop the session
        (
            3103,
            "sore spot under my shoulder blade, I don't have any pins and needles",
            "Got it: Upper back",
            "Please book an appointment",
        ),
    ],
)
async def test_free_text_at_the_area_question(
    api: FakeBotAPI, make_settings, user_id: int, typed: str, answer: str, never: str
) -> None:
    async with running_bot(make_settings()):
        person = api.user(user_id, "Cy")
        await to_area_question(person)
        await person.send_text(typed)
        await person.wait_for(answer)
        await person.wait_idle()
        assert never not in person.transcript()


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


async def test_a_possible_warning_sign_gets_one_question(api: FakeBotAPI, make_settings) -> None:
    """Yes: that sign's advice and the session ends. No: on to the area the text named."""
    content = load_content(DEFAULT_CONTENT_DIR)
    question = content.red_flag("blood_clot").question
    async with running_bot(make_settings()):
        gil = api.user(3203, "Gil")
        await to_area_question(gil)
        await gil.send_text("I think my calf might be a bit swollen?")
        await gil.wait_for(question)
        await gil.press("Yes")
        await gil.wait_for("blood clot")
        await gil.wait_for(content.text("flag.ended"))
        await gil.wait_idle()
        assert "find the exact spot" not in gil.transcript()

        hal = api.user(3204, "Hal")
        await to_area_question(hal)
        await hal.send_text("I think my calf might be a bit swollen?")
        await hal.wait_for(question)
        await hal.send_text("no")
        await hal.wait_for(content.text("check.cleared"))
        await hal.wait_for("Got it: Calves")
        await hal.wait_idle()
        assert "blood clot" not in hal.transcript()


async def test_a_possible_warning_sign_mid_hold_pauses_it(api: FakeBotAPI, make_settings) -> None:
    content = load_content(DEFAULT_CONTENT_DIR)
    async with running_bot(make_settings(time_scale=0.05)):  # 30 s hold -> 1.5 s
        ida = api.user(3305, "Ida")
        await to_hold(ida)
        await ida.send_text("hmm my hand might be going a bit numb?")
        await ida.wait_for(content.red_flag("nerve_symptoms").question)
        await ida.press("No")
        await ida.wait_for("How was the pressure?")
        await ida.wait_idle(quiet=2.0, timeout=15)
        after = ida.transcript().split(content.text("cancel.release"))[-1]
        assert "Release the pressure gradually" not in after  # the rest of the hold was cancelled


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


@dataclass(frozen=True)
class Poke:
    """What an odd input at one step may use: the current question's number and an older button."""

    prompt: int
    stale: str  # callback data of a button from an earlier question (not the one just answered)


@dataclass(frozen=True)
class Odd:
    """One kind of unexpected input and the content key of the hint it gets (None: a toast only)."""

    name: str
    send: Callable[[FakeUser, Poke], Awaitable[object]]
    hint: str | None
    toast: bool = False  # a button press: Telegram's callback answer says "no longer active"


CONTENT = load_content(DEFAULT_CONTENT_DIR)
OUT_OF_BAND = (Band.FOLLOWUP, Band.PLAN)  # follow-up and plan buttons: valid whatever the question
NON_ANSWER = "qwzx plorf"
PER_STEP = "per step"  # the hint typed text gets depends on the step (NON_ANSWER_HINTS)
ODD_INPUTS = (
    Odd("text that is no answer", lambda u, p: u.send_text(NON_ANSWER), PER_STEP),
    Odd("sticker", lambda u, p: u.send_sticker(), "hint.unsupported"),
    Odd("photo", lambda u, p: u.send_photo(), "hint.unsupported"),
    Odd("voice note", lambda u, p: u.send_voice(), "hint.unsupported"),
    Odd("unknown command", lambda u, p: u.send_command("frobnicate"), "hint.unknown_command"),
    Odd("stale button", lambda u, p: u.press_data(p.stale), "hint.stale", toast=True),
    Odd("forged callback data", lambda u, p: u.press_data("garbage\x00k1:x"), "hint.stale", toast=True),
    Odd("forged action", lambda u, p: u.press_data(f"k1:{p.prompt}:frobnicate"), None, toast=True),
)


async def stored_state(db: Database, user_id: int) -> dict[str, Any]:
    """The person's conversation state as the database holds it."""
    async with db.transaction() as session:
        person = (
            await session.execute(select(Person).where(Person.external_id == str(user_id)))
        ).scalar_one()
        row = await session.get(Conversation, person.id)
        assert row is not None
        return dict(row.state)


def stale_button(user: FakeUser, prompt: int) -> str:
    """The newest button of a question older than the one just answered (that one is a double tap)."""
    for msg in reversed(user.messages):
        for button in (b for row in msg.keyboard for b in row):
            press = decode_press(button.get("callback_data"))
            if (
                isinstance(press, Press)
                and press.action.band not in OUT_OF_BAND
                and press.prompt < prompt - 1
            ):
                return str(button["callback_data"])
    raise AssertionError(f"no button older than question {prompt}\n{user.transcript()}")


async def poke_everything(
    user: FakeUser,
    db: Database,
    step: Step,
    question: str,
    arrived: str | None = None,
    text_hint: str | None = None,
) -> None:
    """Every odd input at the current step: a short hint (or toast), the same question with live
    buttons, the stored state untouched. ``arrived``: what shows the step was reached, if not the
    question itself; ``text_hint``: the hint for typed text, if not the step's usual one."""
    content = CONTENT
    await user.wait_for(arrived or question)  # the step was reached (replies go out after the commit)
    before = await stored_state(db, user.id)
    assert before["step"] == step.value, (before["step"], step)
    poke = Poke(prompt=before["prompt"], stale=stale_button(user, before["prompt"]))
    for odd in ODD_INPUTS:
        where = f"{odd.name} at {step.value}"
        seen, answers = len(user.messages), len(user.callback_answers)
        await odd.send(user, poke)
        asked = await user.wait_for(question)  # the current question again
        new = user.messages[seen:]
        asked_at = next(i for i, m in enumerate(new) if m.message_id == asked.message_id)
        if odd.hint is not None:
            key = odd.hint
            if key == PER_STEP:
                key = text_hint or NON_ANSWER_HINTS.get(step, "hint.use_buttons")
            hint = (
                content.text(key, command="frobnicate")
                if key == "hint.unknown_command"
                else content.text(key)
            )
            assert hint in [m.text for m in new[:asked_at]], where
        if step is not Step.HOLDING:  # timed hold prompts may arrive in between
            assert asked_at == (0 if odd.hint is None else 1), f"{where}: {[m.text for m in new]}"
        prompts = {
            p.prompt
            for p in map(decode_press, (b["callback_data"] for r in asked.keyboard for b in r))
            if isinstance(p, Press) and p.action.band not in OUT_OF_BAND
        }
        assert prompts <= {poke.prompt}, f"{where}: the buttons asked again are live"
        if odd.toast:
            texts = [a.get("text") for a in user.callback_answers[answers:]]
            assert texts == [content.text("toast.stale")], f"{where}: {texts}"
        assert await stored_state(db, user.id) == before, f"{where}: the stored state changed"


async def test_unexpected_input_at_every_step(api: FakeBotAPI, make_settings) -> None:
    """Each odd input of ``ODD_INPUTS`` at each step of the state diagram (docs/architecture.md)."""
    content = CONTENT
    matcher = Matcher(content)
    close_call = next(
        p
        for p in ("thigh", "hip", "back")
        if matcher.match(p).area is None and len(matcher.match(p).candidates) >= 2
    )
    # 30 s hold → 6 s: time to poke at it; some 300 replies, so no per-chat pacing after a burst
    settings = make_settings(time_scale=0.2, chat_burst=1000)
    db = Database(settings.database_url)
    try:
        async with running_bot(settings):
            gus = api.user(7007, "Gus")
            await begin(gus)
            await gus.send_command("cancel")  # an earlier session: its Begin button is stale now
            await gus.wait_for("Tap Begin")
            await poke_everything(gus, db, Step.IDLE, "Tap Begin")
            await gus.press("Begin")
            await poke_everything(gus, db, Step.SCREENING, "Do any of these apply")
            await gus.press("One of these applies")
            await poke_everything(gus, db, Step.SCREENING_PICK, "Which one applies")
            await gus.press("None of these")
            await poke_everything(gus, db, Step.AREA, "Where is the knot?")
            # a warning sign only possibly named: one yes/no question, a step of its own
            await gus.send_text("maybe a bit of tingling?")
            check = content.red_flag("nerve_symptoms").question
            await poke_everything(gus, db, Step.WARNING_CHECK, check)
            await gus.press("No")
            await gus.wait_for(content.text("check.cleared"))
            await gus.wait_for("Where is the knot?")
            await gus.send_text(close_call)
            confirm = await gus.wait_for(content.text("area.did_you_mean"))
            await poke_everything(gus, db, Step.AREA_CONFIRM, content.text("area.did_you_mean"))
            await gus.press(confirm.buttons[0])
            await poke_everything(gus, db, Step.LOCATE, "find the exact spot")
            await gus.press("Found it")
            await poke_everything(gus, db, Step.TOOL, "What will you use")
            await gus.press("recommended")
            await poke_everything(gus, db, Step.TECHNIQUE, "Two ways")
            await gus.press("Steady pressure")
            await poke_everything(gus, db, Step.HOLD_LENGTH, "How long")
            await gus.press("30 s")
            await poke_everything(gus, db, Step.HOLD_READY, "Get into position")
            await gus.press("Start")
            await poke_everything(gus, db, Step.HOLDING, content.text("hold.in_progress"), "Press in now")
            # the hold went on: every timed prompt arrives, then the end of the hold
            await gus.wait_for("Release the pressure gradually", timeout=20)
            for prompt in content.session.prompts:
                if not prompt.techniques or "static_pressure" in prompt.techniques:
                    assert sum(prompt.text in t for t in gus.texts) == 1, prompt.text
            # the pressure rating: still the HOLDING step, the hold is over
            rating = content.text("rate.intensity_question")
            await poke_everything(gus, db, Step.HOLDING, rating, text_hint="hint.use_buttons")
            await gus.press("Too much")
            await gus.wait_for("press more lightly")
            await poke_everything(gus, db, Step.RATE_KNOT, "How does the knot feel")
            await gus.press("Worse")
            await poke_everything(gus, db, Step.NEXT, "What next?")
            assert "Another round here" not in gus.buttons()
            await gus.press("Finish")
            await poke_everything(gus, db, Step.FOLLOWUP, "check in later")
            await gus.press("Yes, check in")
            await poke_everything(gus, db, Step.TZ_ASK, content.text("tz.question"))
            await gus.send_text("Atlantis")  # a near miss: which time zone did you mean?
            await poke_everything(gus, db, Step.TZ_CONFIRM, content.text("tz.did_you_mean"))
            await gus.press("Atlanta")
            await gus.wait_for("Your time zone is America/New_York")
            await gus.wait_idle()
            assert (await stored_state(db, gus.id))["step"] == Step.IDLE.value
            # setting up a practice plan: the areas, the days, the chosen days, the time
            await gus.send_command("plan")
            await poke_everything(gus, db, Step.PLAN_AREAS, content.text("plan.areas_question"))
            for tick, step, key in (
                ("Neck", Step.PLAN_DAYS, "plan.days_question"),
                (None, Step.PLAN_WEEKDAYS, "plan.weekdays_question"),
                ("Mon", Step.PLAN_TIME, "plan.time_question"),
            ):
                if tick is None:
                    await gus.press("Choose days")
                else:
                    await gus.press(tick)
                    await gus.wait_for(lambda m, tick=tick: f"✓ {tick}" in m.buttons)
                    await gus.press("Done")
                await poke_everything(gus, db, step, content.text(key))
            await gus.press("19:30")
            await gus.wait_for("Your plan is set")
            await gus.wait_idle()
            assert (await stored_state(db, gus.id))["step"] == Step.IDLE.value
        async with db.transaction() as session:
            holds = (
                (
                    await session.execute(
                        select(ScheduledMessage).where(ScheduledMessage.key.startswith("hold:"))
                    )
                )
                .scalars()
                .all()
            )
            rounds = (await session.execute(select(SessionRound))).scalars().all()
    finally:
        await db.dispose()
    assert holds and {h.status for h in holds} == {"sent"}, [(h.key, h.status) for h in holds]
    assert [(r.intensity, r.knot) for r in rounds] == [("much", "worse")]  # nothing lost, nothing doubled
    assert "something went wrong" not in gus.transcript()
    api.assert_no_server_errors()


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
