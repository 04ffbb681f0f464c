"""Property tests of the pure core: random event sequences never break the conversation.

Hypothesis plays one person sending up to ~40 events — commands, free text (areas,
warning phrases, yes/no, arbitrary unicode with emoji, RTL and zero-width
characters), presses of the buttons actually offered, forged presses, corrupted
callback data and stickers — while a clock moves forward and scheduled messages
"arrive" when due. After every event ``decide`` must not raise, must not be silent,
and must leave a state that survives a JSON round trip and satisfies the
invariants of its step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.actions import Band, decode_action
from bot.domain.content import AREA_IDS, Content
from bot.domain.conversation import INTENSITIES, KNOT_FEELS, Decision, Env, decide, question
from bot.domain.effects import Cancel, Message, Reply, Schedule, Toast
from bot.domain.events import BadPress, Command, Event, Press, Text, Unsupported, decode_press
from bot.domain.state import State, Step
from tests.core_steps import states_at_every_step

COMMANDS = ["start", "massage", "cancel", "help", "about"]
AREA_PHRASES = [
    "between my shoulder blades",
    "neck",
    "my lower back",
    "thigh",
    "hip",
    "back",
    "calves",
    "jaw",
    "a knot in my glutes",
    "forearm from typing",
    "Upper back",
    "quads",
    "feet",
]
WARNING_PHRASES = [
    "my calf is swollen, red and warm",
    "i have chest pain",
    "there is an open wound on my back",
    "the spot is red hot and swollen",
    "I am pregnant",
    "pain shooting down my leg",
    "bad bruise on my thigh",
]
YES_NO = ["yes", "no", "Yes!", "nope", "none of these", "ok", "no thanks", "y", "n"]
WEIRD = [
    "\u200b",
    "\u202e",
    "\ufeff",
    "שלום",
    "مرحبا",
    "😀",
    "🧘\u200d♀️",
    "\u0301",
    "neck\u200b",
    "ﬁ",
    "İ",
    "\x00",
]
KNOWN_ACTIONS = [
    "begin",
    "none",
    "some",
    "other",
    "found",
    "cant",
    "spot",
    "finish",
    "again",
    "start",
    "cancel",
    "intense",
    "stop",
    "fu:yes",
    "fu:no",
    "flag:chest_pain",
    "flag:open_wound",
    "flag:nope",
    "area:neck",
    "area:elbow",
    "tool:ball",
    "tool:fingers",
    "tool:foam_roller",
    "tool:hammer",
    "tech:static_pressure",
    "tech:stripping",
    "tech:x",
    "len:30",
    "len:45",
    "len:60",
    "len:31",
    "len:",
    *(f"int:{i}" for i in INTENSITIES),
    *(f"knot:{k}" for k in KNOT_FEELS),
    "int:",
    "knot:meh",
]

# -- event strategies ----------------------------------------------------------------------
# Some events depend on what the bot offered last; they are drawn as plans and resolved
# against the current state inside the test.


@dataclass(frozen=True)
class PressOffered:
    index: int


@dataclass(frozen=True)
class PressNear:
    delta: int
    action: str


weird_text = st.lists(st.sampled_from(WEIRD) | st.text(max_size=5), max_size=6).map("".join)
texts = st.one_of(
    st.text(max_size=80),
    weird_text,
    st.sampled_from(AREA_PHRASES + WARNING_PHRASES + YES_NO),
    st.tuples(st.sampled_from(AREA_PHRASES + WARNING_PHRASES), weird_text).map(lambda t: t[0] + t[1]),
).map(Text)
commands = (st.sampled_from(COMMANDS) | st.text(min_size=1, max_size=12)).map(Command)
actions = st.sampled_from(KNOWN_ACTIONS) | st.text(max_size=30)
plans = st.one_of(
    commands,
    texts,
    # weight: tap an offered button most of the time, so that sessions get deep
    *[st.integers(min_value=0, max_value=40).map(PressOffered)] * 10,
    st.builds(PressNear, st.integers(min_value=-3, max_value=2), actions),
    st.builds(Press, st.integers(min_value=0, max_value=10**9), actions.map(decode_action)),
    st.just(BadPress()),
    (
        st.sampled_from(["sticker", "photo", "voice", "video", "location", "contact"]) | st.text(max_size=10)
    ).map(Unsupported),
)
clock_steps = st.one_of(
    st.just(0.0), st.floats(min_value=0.0, max_value=120.0), st.sampled_from([3600.0, 86400.0])
)


# -- a person with a phone -----------------------------------------------------------------


@dataclass
class Phone:
    """What the person sees: the latest buttons, and scheduled messages that arrive when due."""

    buttons: list[str] = field(default_factory=list)  # callback data
    pending: list[tuple[float, str, Message]] = field(default_factory=list)

    def show(self, message: Message) -> None:
        if message.buttons:
            self.buttons = [b.data for row in message.buttons for b in row]

    def tick(self, now: float) -> None:
        due = sorted((p for p in self.pending if p[0] <= now), key=lambda p: p[0])
        self.pending = [p for p in self.pending if p[0] > now]
        for _, _, message in due:
            self.show(message)

    def apply(self, decision: Decision, now: float) -> None:
        for effect in decision.effects:
            if isinstance(effect, Reply):
                self.show(effect.message)
            elif isinstance(effect, Schedule):
                self.pending.append((now + effect.delay, effect.key, effect.message))
            elif isinstance(effect, Cancel):
                self.pending = [p for p in self.pending if not p[1].startswith(effect.prefix)]


def resolve(plan: object, state: State, phone: Phone) -> Event:
    if isinstance(plan, PressOffered):
        if not phone.buttons:
            return Command("massage")
        press = decode_press(phone.buttons[plan.index % len(phone.buttons)])
        assert isinstance(press, Press)
        return press
    if isinstance(plan, PressNear):
        return Press(max(0, state.prompt + plan.delta), decode_action(plan.action))
    assert isinstance(plan, Command | Text | Press | BadPress | Unsupported)
    return plan


# -- invariants ----------------------------------------------------------------------------

WITH_AREA = {
    Step.LOCATE,
    Step.TOOL,
    Step.TECHNIQUE,
    Step.HOLD_LENGTH,
    Step.HOLD_READY,
    Step.HOLDING,
    Step.RATE_KNOT,
    Step.NEXT,
}
WITH_TOOL = WITH_AREA - {Step.LOCATE, Step.TOOL}
WITH_TECHNIQUE = WITH_TOOL - {Step.TECHNIQUE}
WITH_SECONDS = WITH_TECHNIQUE - {Step.HOLD_LENGTH}


def check_state(state: State, content: Content) -> None:
    assert isinstance(state.step, Step)
    assert isinstance(state.prompt, int) and state.prompt >= 0
    assert isinstance(state.session, int) and state.session >= 0
    assert set(state.areas_done) <= set(AREA_IDS)
    assert len(set(state.areas_done)) == len(state.areas_done)
    assert 0 <= state.round <= content.session.max_rounds
    assert 0 <= state.locate_tries <= 2
    step = state.step
    if step is Step.IDLE:
        assert state.area is None
        assert state.areas_done == ()
    if step in WITH_AREA:
        assert state.area in AREA_IDS, step
    if step in WITH_TOOL:
        assert state.area is not None
        assert state.tool in {s.tool for s in content.area(state.area).tools}, step
    if step in WITH_TECHNIQUE:
        assert state.technique in {t.id for t in content.techniques}, step
    if step in WITH_SECONDS:
        assert state.hold_seconds in content.session.hold_seconds, step
    if step is Step.HOLDING:  # running (it ends at a time) or paused (seconds left)
        assert (state.hold_ends_at is None) != (state.hold_left is None)
        assert state.round >= 1
    if step is Step.RATE_KNOT:
        assert state.intensity in INTENSITIES
        assert state.round >= 1
    if step is Step.NEXT:
        assert state.knot in KNOT_FEELS
        assert state.area in state.areas_done
        assert state.round >= 1
    if step is Step.AREA_CONFIRM:
        assert 2 <= len(state.candidates) <= 3
        assert set(state.candidates) <= set(AREA_IDS)
    if step is Step.FOLLOWUP:
        assert state.areas_done


def check_decision(before: State, decision: Decision) -> None:
    state = decision.state
    assert state.prompt >= before.prompt
    assert state.session >= before.session
    said = [e for e in decision.effects if isinstance(e, Reply | Toast)]
    assert said, "silence"
    for effect in decision.effects:
        if isinstance(effect, Toast):
            assert effect.text.strip()
        if isinstance(effect, Reply | Schedule):
            assert effect.message.text.strip()
            for row in effect.message.buttons:
                assert row
                for button in row:
                    assert button.label.strip()
                    assert len(button.data.encode()) <= 64
                    press = decode_press(button.data)
                    assert isinstance(press, Press), button.data
                    # follow-up buttons are out of band (prompt 0); all others belong to the question
                    expected = 0 if press.action.band in (Band.FOLLOWUP, Band.PLAN) else state.prompt
                    assert press.prompt == expected, (button, state.prompt)
        if isinstance(effect, Schedule):
            assert effect.delay >= 0
            assert effect.key.startswith(("hold:", "fu:"))


@pytest.fixture(scope="module")
def start_states(core_env: Env) -> dict[Step, State]:
    return states_at_every_step(core_env)


def roundtrip(state: State) -> State:
    return State.from_json(json.loads(json.dumps(state.to_json())))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start=st.sampled_from(list(Step)),
    steps=st.lists(st.tuples(plans, clock_steps), min_size=10, max_size=40),
    time_scale=st.sampled_from([1.0, 0.01]),
)
def test_random_sequences_never_break_the_conversation(
    core_env: Env,
    start_states: dict[Step, State],
    start: Step,
    steps: list[tuple[object, float]],
    time_scale: float,
) -> None:
    """Starting from a state at any step (reached by a real session), random events never break it."""
    env = replace(core_env, time_scale=time_scale)
    content = env.content
    state = start_states[start]
    check_state(state, content)
    phone = Phone()
    phone.show(question(state, env))
    for plan, dt in steps:
        env = replace(env, now=env.now + dt)
        phone.tick(env.now)
        event = resolve(plan, state, phone)
        decision = decide(state, event, env)
        check_decision(state, decision)
        phone.apply(decision, env.now)
        state = decision.state
        check_state(state, content)
        assert roundtrip(state) == state


@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.integers(min_value=0, max_value=40), min_size=5, max_size=40))
def test_pressing_only_offered_buttons_never_stalls(core_env: Env, picks: list[int]) -> None:
    """Someone who only taps buttons always has a button to tap, or is idle with a way back in."""
    state = State()
    phone = Phone()
    env = core_env
    decision = decide(state, Command("start"), env)
    phone.apply(decision, env.now)
    state = decision.state
    for pick in picks:
        env = replace(env, now=env.now + 100.0)  # every hold has ended; its messages arrived
        phone.tick(env.now)
        assert phone.buttons, f"no button to tap at {state.step}"
        press = decode_press(phone.buttons[pick % len(phone.buttons)])
        assert isinstance(press, Press)
        decision = decide(state, press, env)
        check_decision(state, decision)
        phone.apply(decision, env.now)
        state = decision.state
        check_state(state, env.content)
        if state.step is Step.IDLE:
            decision = decide(state, Command("massage"), env)
            phone.apply(decision, env.now)
            state = decision.state
