"""Callback data (encode_press / decode_press) and the stored conversation state (State JSON)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.constants import InlineKeyboardButtonLimit

from bot.domain.actions import decode_action
from bot.domain.conversation import Env, decide
from bot.domain.events import (
    CALLBACK_DATA_LIMIT,
    CALLBACK_VERSION,
    BadPress,
    Press,
    Unsupported,
    decode_press,
    encode_press,
)
from bot.domain.state import State, Step

# -- callback data -------------------------------------------------------------------------


def test_callback_data_limit_is_telegrams() -> None:
    # the domain keeps its own copy of the number (it imports no telegram): it must be PTB's
    assert CALLBACK_DATA_LIMIT == InlineKeyboardButtonLimit.MAX_CALLBACK_DATA == 64


actions = st.text(min_size=1, max_size=40).filter(lambda a: len(f"k1:0:{a}".encode()) <= 64)


@settings(max_examples=300, deadline=None)
@given(prompt=st.integers(min_value=0, max_value=10**12), action=actions)
def test_encode_decode_round_trip(prompt: int, action: str) -> None:
    try:
        data = encode_press(prompt, decode_action(action))
    except ValueError:
        assert len(f"{CALLBACK_VERSION}:{prompt}:{action}".encode()) > 64
        return
    assert len(data.encode()) <= 64
    assert decode_press(data) == Press(prompt=prompt, action=decode_action(action))


@pytest.mark.parametrize("action", ["begin", "flag:chest_pain", "area:upper_back", "len:60", "a:b:c", "é😀"])
def test_round_trip_of_real_actions(action: str) -> None:
    assert decode_press(encode_press(123, decode_action(action))) == Press(123, decode_action(action))


def test_encoded_data_carries_the_version() -> None:
    assert encode_press(5, decode_action("none")).startswith(f"{CALLBACK_VERSION}:")


def test_too_long_data_raises() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_press(1, decode_action("x" * 64))
    # the limit is in bytes, not characters: 20 emoji are 80 bytes
    with pytest.raises(ValueError):
        encode_press(1, decode_action("😀" * 20))
    # exactly 64 bytes is fine
    action = "x" * (64 - len(f"{CALLBACK_VERSION}:1:"))
    assert len(encode_press(1, decode_action(action)).encode()) == 64


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "k1",
        "k1:",
        "k1:5",
        "k1:5:",
        "k2:5:none",
        "K1:5:none",
        "v1:5:none",
        "k1:abc:none",
        "k1:-1:none",
        "k1:1.5:none",
        "k1: 5:none",
        "k1::none",
        ":5:none",
        "none",
        "5:none",
        "\x00\xff",
    ],
)
def test_malformed_data_is_a_bad_press(data: str | None) -> None:
    assert decode_press(data) == BadPress()


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
def test_random_bytes_never_raise(raw: bytes) -> None:
    data = raw.decode("utf-8", errors="replace")
    result = decode_press(data)
    assert isinstance(result, Press | BadPress)
    if isinstance(result, Press):
        assert data.startswith(f"{CALLBACK_VERSION}:")
        assert result.action
        assert result.prompt >= 0


@settings(max_examples=300, deadline=None)
@given(data=st.text(max_size=80) | st.text(max_size=20).map(lambda t: f"{CALLBACK_VERSION}:{t}"))
def test_random_text_never_raises(data: str) -> None:
    result = decode_press(data)
    assert isinstance(result, Press | BadPress)
    if isinstance(result, Press):
        assert result.action
        assert result.prompt >= 0


@pytest.mark.parametrize("data", ["k1:¹:none", "k1:²³:begin"])
def test_superscript_digits_are_a_bad_press_not_a_crash(data: str) -> None:
    assert decode_press(data) == BadPress()


# -- state JSON ------------------------------------------------------------------------------

texts = st.none() | st.text(max_size=20)
states = st.builds(
    State,
    step=st.sampled_from(list(Step)),
    prompt=st.integers(min_value=0, max_value=10**9),
    session=st.integers(min_value=0, max_value=10**6),
    area=texts,
    candidates=st.lists(st.text(max_size=12), max_size=3).map(tuple),
    locate_tries=st.integers(min_value=0, max_value=2),
    tool=texts,
    technique=texts,
    hold_seconds=st.none() | st.sampled_from([30, 45, 60]),
    hold_ends_at=st.none() | st.floats(min_value=0, max_value=4e9, allow_nan=False),
    round=st.integers(min_value=0, max_value=3),
    intensity=texts,
    knot=texts,
    areas_done=st.lists(st.text(max_size=12), max_size=4).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(state=states)
def test_state_json_round_trip(state: State) -> None:
    data = state.to_json()
    encoded = json.dumps(data)  # JSON-able, as stored in the database
    assert State.from_json(json.loads(encoded)) == state
    assert data["step"] == state.step.value


def test_to_json_uses_plain_types() -> None:
    state = State(
        step=Step.NEXT, prompt=4, session=2, area="neck", areas_done=("neck",), candidates=("a", "b")
    )
    data = state.to_json()
    assert data["step"] == "next"
    assert data["areas_done"] == ["neck"]
    assert data["candidates"] == ["a", "b"]


@pytest.mark.parametrize("data", [None, {}])
def test_from_json_of_nothing_is_a_fresh_state(data: dict[str, object] | None) -> None:
    assert State.from_json(data) == State()


def test_from_json_ignores_unknown_keys() -> None:
    state = State(step=Step.AREA, prompt=9, session=3)
    data = {**state.to_json(), "from_the_future": 1}
    assert State.from_json(data) == state


def test_from_json_with_an_unknown_step_falls_back_to_a_fresh_state() -> None:
    data = {**State(step=Step.TOOL, prompt=7, session=3, area="neck").to_json(), "step": "dancing"}
    state = State.from_json(data)
    assert state.step is Step.IDLE
    assert state.area is None
    # keeps the person's counters, so that old buttons stay stale
    assert state.session == 3
    assert state.prompt > 7


def test_from_json_with_a_non_list_candidates_falls_back() -> None:
    data = {**State(step=Step.AREA_CONFIRM, prompt=2, session=1).to_json(), "candidates": 5}
    state = State.from_json(data)
    assert state.step is Step.IDLE
    assert state.prompt > 2


JUNK = [
    pytest.param({"step": 5, "prompt": 3}, id="step-int"),
    pytest.param({"step": None, "prompt": 3, "session": 2}, id="step-none"),
    pytest.param({"step": "area", "prompt": 3, "areas_done": 7}, id="areas-done-int"),
    pytest.param({"step": "area", "prompt": True, "session": -4}, id="prompt-bool-session-negative"),
    pytest.param({"step": "next", "prompt": 3, "areas_done": [1, 2]}, id="areas-done-ints"),
    pytest.param({"step": "holding", "prompt": 3, "hold_ends_at": "soon"}, id="hold-ends-at-str"),
    pytest.param({"step": "tool", "prompt": "abc"}, id="prompt-str"),
    pytest.param({"step": "area", "prompt": 3, "session": [1]}, id="session-list"),
    pytest.param(
        {"step": "holding", "prompt": 3, "hold_seconds": "sixty"},
        id="hold-seconds-str",
    ),
    pytest.param(
        {"step": "bogus", "prompt": "abc"},
        id="bad-step-and-prompt",
    ),
    pytest.param(
        {"step": "bogus", "prompt": 1, "session": {"a": 1}},
        id="bad-step-and-session",
    ),
    pytest.param(
        {"step": "locate", "prompt": 3},
        id="locate-without-area",
    ),
    pytest.param(
        {"step": "tool", "prompt": 3, "session": 1, "area": "elbow"},
        id="tool-with-unknown-area",
    ),
    pytest.param(
        {"step": "area_confirm", "prompt": 3, "candidates": "abc"},
        id="candidates-str",
    ),
]


@pytest.mark.parametrize("data", JUNK)
def test_from_json_with_junk_falls_back_to_a_valid_state(core_env: Env, data: dict[str, object]) -> None:
    state = State.from_json(data)
    assert isinstance(state.step, Step)
    assert isinstance(state.prompt, int)
    assert isinstance(state.session, int)
    assert isinstance(state.candidates, tuple)
    assert all(isinstance(c, str) for c in state.candidates)
    assert isinstance(state.areas_done, tuple)
    assert state.hold_seconds is None or isinstance(state.hold_seconds, int)
    # valid means usable: the core can re-ask its question without raising
    decision = decide(state, Unsupported("sticker"), core_env)
    assert decision.effects
    assert State.from_json(json.loads(json.dumps(decision.state.to_json()))) == decision.state


def test_advance_moves_the_prompt_and_keeps_the_rest() -> None:
    state = State(step=Step.TOOL, prompt=4, session=2, area="neck")
    moved = state.advance(Step.TECHNIQUE, tool="fingers")
    assert moved.step is Step.TECHNIQUE
    assert moved.prompt == 5
    assert moved.area == "neck"
    assert moved.tool == "fingers"
    assert state.prompt == 4  # frozen: the original is unchanged


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/start", "start"), ("/Start@knotbot_bot now", "start"), ("/", None), ("/\u00a0", None), ("hi", None)],
)
def test_command_name(text: str, expected: str | None) -> None:
    from bot.domain.events import command_name

    assert command_name(text) == expected
