"""Pure-core tests of the conversation, one transition at a time.

``decide(state, event, env)`` is driven with a fixed clock (``CORE_NOW``) by a small
driver that types, sends commands and presses buttons by label (see
``tests/conftest.py``, section "pure core fixtures"). Expectations come from the
content files, so rewording content does not break these tests, but a wrong
transition, a missing button or a wrong delay does.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.domain.actions import Band, decode_action, encode_action
from bot.domain.content import Content, Severity
from bot.domain.conversation import (
    HOLD_KEY_PREFIX,
    INTENSITIES,
    KNOT_FEELS,
    Decision,
    Env,
    decide,
    intensity_question,
    is_consistent,
    question,
)
from bot.domain.effects import (
    Cancel,
    Message,
    RecordFollowups,
    RecordRound,
    Reply,
    Schedule,
    Toast,
)
from bot.domain.events import BadPress, Command, Location, Press, Text, Unsupported, decode_press
from bot.domain.matcher import Candidate, MatchResult
from bot.domain.state import State, Step
from bot.domain.timezones import ZoneMatcher
from tests.conftest import CORE_NOW, CoreDriver, core_replies, core_reply_text
from tests.core_steps import NON_ANSWER_HINTS, states_at_every_step

# -- helpers ----------------------------------------------------------------------------


def toasts(decision: Decision) -> list[str]:
    return [e.text for e in decision.effects if isinstance(e, Toast)]


def schedules(decision: Decision) -> list[Schedule]:
    return [e for e in decision.effects if isinstance(e, Schedule)]


def cancels(decision: Decision) -> list[Cancel]:
    return [e for e in decision.effects if isinstance(e, Cancel)]


def button_actions(message: Message) -> list[str]:
    actions = []
    for row in message.buttons:
        for button in row:
            press = decode_press(button.data)
            assert isinstance(press, Press), button.data
            actions.append(encode_action(press.action))
    return actions


def button_prompts(message: Message) -> set[int]:
    prompts = set()
    for row in message.buttons:
        for button in row:
            press = decode_press(button.data)
            assert isinstance(press, Press), button.data
            if press.action.band in (Band.FOLLOWUP, Band.PLAN):
                # follow-up and plan buttons are out of band: prompt 0
                assert press.prompt == 0, button.data
                continue
            prompts.add(press.prompt)
    return prompts


def labels(message: Message) -> list[str]:
    return [b.label for row in message.buttons for b in row]


def last_question(decision: Decision) -> Message:
    messages = core_replies(decision)
    assert messages, f"no reply in {decision.effects}"
    return messages[-1]


def to_area(drv: CoreDriver) -> None:
    drv.command("massage")
    drv.press("None of these")
    assert drv.state.step is Step.AREA


def to_locate(drv: CoreDriver, area_id: str = "upper_back") -> None:
    to_area(drv)
    drv.press(drv.env.content.area(area_id).name)
    assert drv.state.step is Step.LOCATE
    assert drv.state.area == area_id


def to_tool(drv: CoreDriver, area_id: str = "upper_back") -> None:
    to_locate(drv, area_id)
    drv.press("Found it")
    assert drv.state.step is Step.TOOL


def to_ready(
    drv: CoreDriver, seconds: int = 30, technique: str = "static_pressure", area_id: str = "upper_back"
) -> None:
    to_tool(drv, area_id)
    c = drv.env.content
    drv.press(c.tool(c.area(area_id).tools[0].tool).name)
    drv.press(c.technique(technique).name)
    drv.press(f"{seconds} s")
    assert drv.state.step is Step.HOLD_READY


def to_holding(drv: CoreDriver, **kwargs: object) -> Decision:
    to_ready(drv, **kwargs)  # type: ignore[arg-type]
    decision = drv.press("Start")
    assert drv.state.step is Step.HOLDING
    return decision


def finish_round(drv: CoreDriver, intensity: str = "Just right", knot: str = "Softer") -> Decision:
    """From HOLDING: the hold ends, the person rates intensity and the knot."""
    start = drv.last
    assert start is not None
    end = [s for s in schedules(start) if s.kind == "hold_end"]
    if end:
        drv.advance(end[0].delay)
        drv.deliver(end[0].message)
    drv.press(intensity)
    assert drv.state.step is Step.RATE_KNOT
    return drv.press(knot)


def flags_of(content: Content, severity: Severity) -> list[str]:
    return [f.id for f in content.red_flags if f.severity is severity]


ALL_STEPS = list(Step)


@pytest.fixture(scope="module")
def step_states(core_env: Env) -> dict[Step, State]:
    return states_at_every_step(core_env)


# -- /start and screening ---------------------------------------------------------------


def test_start_greets_says_not_medical_advice_and_offers_begin(core_driver: CoreDriver) -> None:
    d = core_driver.command("start")
    assert d.state.step is Step.IDLE
    text = core_reply_text(d)
    assert "not medical advice" in text
    assert core_driver.labels() == ["Begin"]
    assert core_driver.button_press("Begin") == Press(d.state.prompt, decode_action("begin"))


def test_start_in_a_session_keeps_the_session_and_reasks(core_driver: CoreDriver) -> None:
    to_area(core_driver)
    before = core_driver.state
    d = core_driver.command("start")
    assert d.state == before
    assert "not medical advice" in core_reply_text(d)
    assert last_question(d) == question(before, core_driver.env)


@pytest.mark.parametrize("how", ["begin", "massage"])
def test_begin_asks_the_screening_question_with_every_red_flag(core_driver: CoreDriver, how: str) -> None:
    content = core_driver.env.content
    if how == "begin":
        core_driver.command("start")
        d = core_driver.press("Begin")
    else:
        d = core_driver.command("massage")
    assert d.state.step is Step.SCREENING
    assert d.state.session == 1
    q = last_question(d)
    for flag in content.red_flags:
        assert flag.description in q.text
    assert labels(q) == ["None of these", "One of these applies"]
    assert button_prompts(q) == {d.state.prompt}


def test_none_of_these_goes_to_area_with_a_button_per_area(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_area(core_driver)
    q = core_driver.buttons_message
    assert q is not None
    assert sorted(button_actions(q)) == sorted(f"area:{a.id}" for a in content.areas)
    assert core_driver.state.session == 1


@pytest.mark.parametrize(
    ("typed", "step"), [("no", Step.AREA), ("None of these", Step.AREA), ("yes", Step.SCREENING_PICK)]
)
def test_screening_answered_by_text(core_driver: CoreDriver, typed: str, step: Step) -> None:
    core_driver.command("massage")
    assert core_driver.text(typed).state.step is step


def test_one_applies_lists_every_flag_as_a_button(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    core_driver.command("massage")
    d = core_driver.press("One of these applies")
    assert d.state.step is Step.SCREENING_PICK
    actions = button_actions(last_question(d))
    assert actions == [f"flag:{f.id}" for f in content.red_flags] + ["none"]


@pytest.mark.parametrize("severity", list(Severity))
def test_each_severity_ends_or_redirects_with_its_action_text(core_env: Env, severity: Severity) -> None:
    content = core_env.content
    flag_ids = flags_of(content, severity)
    assert flag_ids, f"no red flag with severity {severity}"
    for flag_id in flag_ids:
        flag = content.red_flag(flag_id)
        drv = CoreDriver(core_env)
        drv.command("massage")
        drv.press("One of these applies")
        session = drv.state.session
        d = drv.send(drv.button_press(flag.label))
        text = core_reply_text(d)
        assert content.severities[severity] in text, flag_id
        assert flag.reply in text, flag_id
        if severity is Severity.AVOID_SPOT:
            assert d.state.step is Step.AREA
            assert d.state.session == session
            assert set(button_actions(last_question(d))) >= {f"area:{a}" for a in ("neck", "calves")}
        else:
            assert d.state.step is Step.IDLE, flag_id
            assert d.state.session == session
            assert d.state.area is None
            # nothing to tap that would continue the massage
            for message in core_replies(d):
                assert not message.buttons


def test_emergency_says_get_help_now(core_env: Env) -> None:
    content = core_env.content
    flag = content.red_flag(flags_of(content, Severity.EMERGENCY)[0])
    drv = CoreDriver(core_env)
    drv.command("massage")
    drv.press("One of these applies")
    d = drv.press(flag.label)
    assert content.text("flag.ended_emergency") in core_reply_text(d)


# -- warning phrases typed at a step ----------------------------------------------------


def test_swollen_red_warm_calf_at_area_is_a_blood_clot_never_calves(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_area(core_driver)
    d = core_driver.text("my calf is swollen, red and warm")
    text = core_reply_text(d)
    assert content.red_flag("blood_clot").reply in text
    assert content.severities[Severity.URGENT] in text
    assert d.state.step is Step.IDLE
    assert d.state.area is None
    assert content.area("calves").where not in text
    assert content.area("calves").stretch not in text


@pytest.mark.parametrize(
    "step", [Step.LOCATE, Step.TOOL, Step.TECHNIQUE, Step.HOLD_READY, Step.HOLDING, Step.NEXT]
)
def test_chest_pain_typed_mid_session_ends_it(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    content = core_env.content
    d = decide(step_states[step], Text("i have chest pain and I'm short of breath"), core_env)
    assert d.state.step is Step.IDLE
    assert content.severities[Severity.EMERGENCY] in core_reply_text(d)
    assert (Cancel("hold:") in d.effects) == (step is Step.HOLDING)


def test_avoid_spot_phrase_mid_session_redirects_to_another_area(
    step_states: dict[Step, State], core_env: Env
) -> None:
    content = core_env.content
    state = step_states[Step.LOCATE]
    d = decide(state, Text("there is an open wound on my back"), core_env)
    assert d.state.step is Step.AREA
    assert d.state.area is None
    assert d.state.session == state.session
    assert content.red_flag("open_wound").reply in core_reply_text(d)


def test_avoid_spot_phrase_when_idle_does_not_skip_screening(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    core_driver.command("start")
    before = core_driver.state
    d = core_driver.text("there is an open wound on my back")
    assert d.state.step in (Step.IDLE, Step.SCREENING)
    assert d.state.area is None
    assert content.red_flag("open_wound").reply in core_reply_text(d)
    # whatever comes next, a massage only starts after screening
    nxt = core_driver.press("Begin") if d.state.step is Step.IDLE else d
    assert nxt.state.step is Step.SCREENING
    assert nxt.state.session == before.session + 1


# -- area ------------------------------------------------------------------------------


def test_free_text_area_is_named_back_and_goes_to_locate(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_area(core_driver)
    d = core_driver.text("between my shoulder blades")
    area = content.area("upper_back")
    assert d.state.step is Step.LOCATE
    assert d.state.area == "upper_back"
    text = core_reply_text(d)
    assert f"{area.name} — {area.where}" in text
    for zone in area.avoid:
        assert zone in text
    assert area.knots_sit in text


def test_a_close_call_from_the_matcher_asks_did_you_mean(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    matcher = core_driver.env.matcher
    phrase = next(
        (p for p in ("thigh", "hip", "back", "my back hurts") if 2 <= len(matcher.match(p).candidates) <= 3),
        None,
    )
    assert phrase is not None, "the matcher gives no close call for thigh / hip / back"
    expected = [c.area for c in matcher.match(phrase).candidates]
    to_area(core_driver)
    d = core_driver.text(phrase)
    assert d.state.step is Step.AREA_CONFIRM
    assert list(d.state.candidates) == expected
    q = last_question(d)
    assert q.text == content.text("area.did_you_mean")
    assert button_actions(q) == [f"area:{a}" for a in expected] + ["other"]
    chosen = core_driver.press(content.area(expected[1]).name)
    assert chosen.state.step is Step.LOCATE
    assert chosen.state.area == expected[1]
    assert chosen.state.candidates == ()


def test_area_confirm_buttons_from_a_built_state(core_env: Env) -> None:
    content = core_env.content
    state = State(
        step=Step.AREA_CONFIRM, prompt=7, session=2, candidates=("glutes", "outer_thigh", "hamstrings")
    )
    q = question(state, core_env)
    assert labels(q) == [content.area(a).name for a in state.candidates] + ["None of those"]
    assert button_prompts(q) == {7}
    other = decide(state, Press(7, decode_action("other")), core_env)
    assert other.state.step is Step.AREA
    assert other.state.candidates == ()
    assert other.state.prompt == 8
    # an area that was not a candidate but is a real area is still accepted
    quads = decide(state, Press(7, decode_action("area:quads")), core_env)
    assert quads.state.area == "quads"
    # an unknown area id is not
    bogus = decide(state, Press(7, decode_action("area:elbow")), core_env)
    assert bogus.state == state
    assert toasts(bogus)


def test_close_call_with_a_stub_matcher_keeps_at_most_three(core_env: Env) -> None:
    class Stub:
        def match(self, text: str) -> MatchResult:
            cands = tuple(Candidate(a, 90.0) for a in ("quads", "hamstrings", "outer_thigh", "glutes"))
            return MatchResult(text=text, area=None, red_flag=None, score=90.0, candidates=cands)

    env = dataclasses.replace(core_env, matcher=Stub())  # type: ignore[arg-type]
    state = State(step=Step.AREA, prompt=3, session=1)
    d = decide(state, Text("leg thing"), env)
    assert d.state.step is Step.AREA_CONFIRM
    assert d.state.candidates == ("quads", "hamstrings", "outer_thigh")


def test_no_match_asks_again_with_buttons(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_area(core_driver)
    before = core_driver.state
    d = core_driver.text("qwzx plorf")
    assert d.state == before  # the area buttons already shown still work
    assert content.text("area.no_match") in core_reply_text(d)
    q = last_question(d)
    assert len(button_actions(q)) == len(content.areas)
    assert button_prompts(q) == {d.state.prompt}


def test_no_match_at_a_close_call_keeps_the_candidates(core_env: Env) -> None:
    state = State(step=Step.AREA_CONFIRM, prompt=7, session=2, candidates=("glutes", "outer_thigh"))
    d = decide(state, Text("qwzx plorf"), core_env)
    assert d.state == state
    assert core_env.content.text("area.no_match") in core_reply_text(d)
    assert last_question(d) == question(state, core_env)
    assert decide(d.state, Press(7, decode_action("area:glutes")), core_env).state.area == "glutes"


# -- locate ------------------------------------------------------------------------------


def test_cant_find_twice_gives_tips_then_warm_up_then_other_options(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_locate(core_driver)
    assert core_driver.labels() == ["Found it", "Can't find it"]
    first = core_driver.press("Can't find it")
    assert first.state.step is Step.LOCATE
    assert content.text("locate.tips") in core_reply_text(first)
    assert core_driver.labels() == ["Found it", "Can't find it"]
    second = core_driver.press("Can't find it")
    assert content.text("locate.warm_up") in core_reply_text(second)
    assert "foam roller" in core_reply_text(second)
    assert core_driver.labels() == ["Found it", "Another spot", "Finish"]
    # the third "can't find" is not offered; a forged one is only re-asked
    forged = core_driver.send(Press(core_driver.state.prompt, decode_action("cant")))
    assert forged.state == second.state


def test_locate_other_spot_goes_to_area_and_finish_with_nothing_done_ends(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_locate(drv)
    drv.press("Can't find it")
    drv.press("Can't find it")
    spot = drv.press("Another spot")
    assert spot.state.step is Step.AREA
    assert spot.state.area is None
    assert spot.state.locate_tries == 0

    drv = CoreDriver(core_env)
    to_locate(drv)
    drv.press("Can't find it")
    drv.press("Can't find it")
    done = drv.press("Finish")
    assert done.state.step is Step.IDLE
    assert core_env.content.text("aftercare.nothing_done") in core_reply_text(done)
    assert not [e for e in done.effects if isinstance(e, RecordFollowups)]


# -- tool, technique, hold length -------------------------------------------------------


def test_every_area_lists_its_tools_recommended_first(core_env: Env) -> None:
    content = core_env.content
    for area in content.areas:
        drv = CoreDriver(core_env)
        to_tool(drv, area.id)
        q = drv.buttons_message
        assert q is not None
        names = labels(q)
        tools = [content.tool(s.tool) for s in area.tools]
        assert names[0] == f"{tools[0].name} (recommended)", area.id
        assert names[1:] == [t.name for t in tools[1:]], area.id
        assert sum("(recommended)" in n for n in names) == 1
        assert button_actions(q) == [f"tool:{t.id}" for t in tools]
        for tool in tools:
            assert tool.why in q.text


def test_choosing_a_tool_shows_its_setup_for_the_area(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_tool(core_driver, "upper_back")
    setup = content.area("upper_back").tools[1]
    d = core_driver.press(content.tool(setup.tool).name)
    assert d.state.step is Step.TECHNIQUE
    assert d.state.tool == setup.tool
    assert setup.setup in core_reply_text(d)


def test_a_tool_that_does_not_suit_the_area_is_refused(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_tool(drv, "neck")  # fingers only
    before = drv.state
    d = drv.send(Press(before.prompt, decode_action("tool:foam_roller")))
    assert d.state == before
    assert toasts(d)


def test_technique_question_recommends_one_and_leads_to_hold_lengths(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_tool(core_driver)
    core_driver.press("(recommended)")
    q = core_driver.buttons_message
    assert q is not None
    for tech in content.techniques:
        assert tech.summary in q.text
    rec = content.recommended_technique()
    assert f"{rec.name} (recommended)" in labels(q)
    assert sum("(recommended)" in n for n in labels(q)) == 1
    d = core_driver.press("(recommended)")
    assert d.state.step is Step.HOLD_LENGTH
    assert d.state.technique == rec.id
    assert labels(last_question(d)) == ["30 s", "45 s", "60 s"]
    assert button_actions(last_question(d)) == ["len:30", "len:45", "len:60"]


@pytest.mark.parametrize("seconds", [30, 45, 60])
def test_hold_length_then_ready_with_start_and_cancel(core_driver: CoreDriver, seconds: int) -> None:
    to_ready(core_driver, seconds)
    assert core_driver.state.hold_seconds == seconds
    assert core_driver.labels() == ["Start", "Cancel"]
    assert str(seconds) in core_driver.buttons_message.text  # type: ignore[union-attr]


def test_a_hold_length_not_offered_is_refused(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_tool(drv)
    drv.press("(recommended)")
    drv.press("(recommended)")
    before = drv.state
    for action in ("len:20", "len:abc", "len:", "len:-30"):
        assert decide(before, Press(before.prompt, decode_action(action)), core_env).state == before


def test_cancel_button_at_ready_ends_the_session(core_driver: CoreDriver) -> None:
    to_ready(core_driver)
    d = core_driver.press("Cancel")
    assert d.state.step is Step.IDLE
    assert not cancels(d)


# -- the hold ------------------------------------------------------------------------------


def expected_prompt_delays(content: Content, technique: str, seconds: int) -> list[float]:
    """Each prompt's delay after Start: the get-ready time, then its point in the hold."""
    lead = content.session.get_ready_seconds
    ats = sorted(p.at for p in content.session.prompts if not p.techniques or technique in p.techniques)
    return [lead + at * seconds for at in ats]


@pytest.mark.parametrize("seconds", [30, 45, 60])
def test_start_gets_ready_then_schedules_the_countdown_and_the_prompts(
    core_driver: CoreDriver, seconds: int
) -> None:
    content = core_driver.env.content
    lead = content.session.get_ready_seconds
    d = to_holding(core_driver, seconds=seconds)
    state = d.state
    assert state.hold_seconds == seconds
    assert state.hold_ends_at == CORE_NOW + lead + seconds
    assert state.round == 1

    now = core_replies(d)
    assert str(seconds) in now[0].text
    assert now[-1].text.startswith("Get into position") and str(lead) in now[-1].text
    assert labels(now[-1]) == ["Too intense", "Pause", "Stop"]
    assert button_prompts(now[-1]) == {state.prompt}

    sched = schedules(d)
    keys = [s.key for s in sched]
    assert len(set(keys)) == len(keys)
    assert all(k.startswith("hold:") for k in keys)
    n = content.session.countdown_from
    countdown, prompts, end = sched[:n], sched[n:-1], sched[-1]
    assert [s.message.text for s in countdown] == [f"{i}…" for i in range(n, 0, -1)]
    assert [s.delay for s in countdown] == [float(lead - i) for i in range(n, 0, -1)]
    first = [
        p
        for p in content.session.prompts
        if p.at == 0 and "static_pressure" in (p.techniques or ["static_pressure"])
    ]
    assert first[0].text in prompts[0].message.text  # "Press in now", when the countdown is over
    assert [s.delay for s in prompts] == pytest.approx(
        expected_prompt_delays(content, "static_pressure", seconds)
    )
    assert {s.kind for s in countdown} == {"hold_countdown"} and {s.kind for s in prompts} == {"hold_prompt"}
    assert prompts[0].late_after is None  # "press in now" is never dropped, like the end
    for s in countdown + prompts[1:]:
        assert s.late_after is not None and s.late_after > 0
    for s in countdown + prompts:
        assert labels(s.message) == ["Too intense", "Pause", "Stop"]
        assert button_prompts(s.message) == {state.prompt}
    assert end.kind == "hold_end"
    assert end.delay == pytest.approx(lead + seconds)
    assert "gradually" in end.message.text
    assert labels(end.message) == ["Too light", "Just right", "Too much"]
    assert button_actions(end.message) == [f"int:{i}" for i in INTENSITIES]
    assert button_prompts(end.message) == {state.prompt}
    # prompt texts from content all arrive, once each
    timed_texts = [s.message.text for s in prompts]
    for p in content.session.prompts:
        if p.at > 0:
            assert sum(p.text in t for t in timed_texts) == 1


def test_pause_keeps_the_time_left_and_resume_sends_only_the_rest(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    lead = content.session.get_ready_seconds
    started = to_holding(core_driver, seconds=60)
    core_driver.advance(lead + 20)  # 20 s into the hold
    d = core_driver.press("Pause")
    assert Cancel("hold:") in d.effects and not schedules(d)
    assert d.state.step is Step.HOLDING and d.state.hold_left == pytest.approx(40)
    q = last_question(d)
    assert "40 seconds" in q.text and labels(q) == ["Resume", "Stop"]
    assert toasts(core_driver.press("Resume")) == []
    resumed = core_driver.last
    assert resumed is not None
    assert "40 seconds to go" in core_replies(resumed)[0].text
    assert labels(core_replies(resumed)[0]) == ["Too intense", "Pause", "Stop"]
    sched = schedules(resumed)
    # only the prompts after 20 s of 60 (at 30 s and 45 s), then the end 40 s from now
    assert [s.delay for s in sched] == pytest.approx([10.0, 25.0, 40.0])
    assert sched[-1].kind == "hold_end"
    assert resumed.state.hold_ends_at == pytest.approx(core_driver.env.now + 40)
    # new keys: the cancelled rows of the first part never block the rest
    assert {s.key for s in sched}.isdisjoint({s.key for s in schedules(started)})
    assert all(s.key.startswith("hold:") for s in sched)


def test_stop_while_paused_ends_the_hold_as_always(core_driver: CoreDriver) -> None:
    to_holding(core_driver)
    core_driver.advance(10)
    core_driver.press("Pause")
    d = core_driver.press("Stop")
    assert d.state.hold_left is None and d.state.hold_ends_at == core_driver.env.now
    assert last_question(d).text == core_driver.env.content.text("rate.intensity_question")


def test_too_intense_while_paused_only_says_paused(core_driver: CoreDriver) -> None:
    to_holding(core_driver)
    core_driver.press("Pause")
    paused = core_driver.state
    d = decide(paused, Press(paused.prompt, decode_action("intense")), core_driver.env)
    assert d.state == paused and toasts(d) == [core_driver.env.content.text("toast.paused")]


def test_second_round_keys_differ_from_the_first(core_driver: CoreDriver) -> None:
    first = to_holding(core_driver)
    finish_round(core_driver)
    core_driver.press("Another round")
    core_driver.press("30 s")
    second = core_driver.press("Start")
    keys1 = {s.key for s in schedules(first)}
    keys2 = {s.key for s in schedules(second)}
    assert keys1.isdisjoint(keys2)
    assert second.state.round == 2


@pytest.mark.parametrize("seconds", [30, 45, 60])
def test_stripping_adds_stroke_cues(core_env: Env, seconds: int) -> None:
    content = core_env.content
    static = CoreDriver(core_env)
    strip = CoreDriver(core_env)
    d_static = to_holding(static, seconds=seconds, technique="static_pressure")
    d_strip = to_holding(strip, seconds=seconds, technique="stripping")
    strokes = [s for s in schedules(d_strip) if "Stroke" in s.message.text]
    assert strokes, "stripping got no stroke cues"
    assert len(schedules(d_strip)) > len(schedules(d_static))
    stroke_every = content.session.stripping_stroke_seconds
    lead = content.session.get_ready_seconds
    for s in strokes:
        assert (s.delay - lead) % stroke_every == 0
        assert 0 < s.delay - lead < seconds
    delays = [s.delay for s in schedules(d_strip)]
    assert delays == sorted(delays)
    assert schedules(d_strip)[-1].kind == "hold_end"
    assert not [s for s in schedules(d_static) if "Stroke" in s.message.text]


@pytest.mark.parametrize("seconds", [30, 45, 60])
def test_stroke_cues_are_numbered_from_one_without_gaps(core_env: Env, seconds: int) -> None:
    drv = CoreDriver(core_env)
    d = to_holding(drv, seconds=seconds, technique="stripping")
    texts = [s.message.text for s in schedules(d)]
    numbers = []
    for text in texts:
        for n in range(1, 20):
            if f"Stroke {n}:" in text:
                numbers.append(n)
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("technique", ["static_pressure", "stripping"])
def test_time_scale_scales_every_delay(core_env: Env, technique: str) -> None:
    fast_env = dataclasses.replace(core_env, time_scale=0.01)
    slow = CoreDriver(core_env)
    fast = CoreDriver(fast_env)
    d_slow = to_holding(slow, seconds=60, technique=technique)
    d_fast = to_holding(fast, seconds=60, technique=technique)
    slow_delays = [s.delay for s in schedules(d_slow)]
    fast_delays = [s.delay for s in schedules(d_fast)]
    assert len(slow_delays) == len(fast_delays) > 1
    assert fast_delays == pytest.approx([x * 0.01 for x in slow_delays])
    assert d_fast.state.hold_ends_at == pytest.approx(CORE_NOW + 60 * 0.01)
    assert [s.key for s in schedules(d_fast)] == [s.key for s in schedules(d_slow)]


def test_too_intense_keeps_step_and_state(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    d0 = to_holding(core_driver)
    before = core_driver.state
    d = core_driver.press("Too intense")
    assert d.state == before
    assert toasts(d) == [content.text("toast.eased")]
    assert content.text("hold.too_intense") in core_reply_text(d)
    assert not cancels(d)
    assert not schedules(d)
    # the buttons of the prompts still scheduled stay valid
    later = schedules(d0)[0].message
    core_driver.deliver(later)
    again = core_driver.press("Too intense")
    assert again.state == before


def test_stop_cancels_the_prompts_and_asks_intensity(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver)
    core_driver.advance(7)
    d = core_driver.press("Stop")
    assert Cancel("hold:") in d.effects
    assert d.state.step is Step.HOLDING
    assert d.state.hold_ends_at == CORE_NOW + 7
    assert content.text("hold.stopped") in core_reply_text(d)
    q = last_question(d)
    assert q.text == content.text("rate.intensity_question")
    assert button_actions(q) == [f"int:{i}" for i in INTENSITIES]
    assert button_prompts(q) == {d.state.prompt}
    assert not schedules(d)


def test_rating_intensity_then_knot_records_the_round(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver, seconds=45, technique="stripping")
    core_driver.press("Stop")
    d = core_driver.press("Too much")
    assert d.state.step is Step.RATE_KNOT
    assert d.state.intensity == "much"
    assert Cancel("hold:") in d.effects
    assert content.text("rate.intensity_much") in core_reply_text(d)
    assert button_actions(last_question(d)) == [f"knot:{k}" for k in KNOT_FEELS]
    k = core_driver.press("Softer")
    records = [e for e in k.effects if isinstance(e, RecordRound)]
    assert records == [
        RecordRound(
            session=1,
            round=1,
            area="upper_back",
            tool=content.area("upper_back").tools[0].tool,
            technique="stripping",
            hold_seconds=45,
            intensity="much",
            knot="softer",
        )
    ]
    assert k.state.step is Step.NEXT
    assert k.state.areas_done == ("upper_back",)
    assert content.text("rate.knot_softer") in core_reply_text(k)


def test_intensity_just_right_after_the_hold_ends_via_the_scheduled_message(core_driver: CoreDriver) -> None:
    to_holding(core_driver)
    d = finish_round(core_driver, "Just right", "Same")
    assert d.state.step is Step.NEXT
    assert d.state.knot == "same"
    assert d.state.intensity == "right"


def test_text_while_holding_gets_a_holding_hint(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver)
    before = core_driver.state
    d = core_driver.text("ouch this is a lot")
    assert d.state == before
    assert content.text("hint.holding") in core_reply_text(d)


# -- after a round -------------------------------------------------------------------------


def test_another_round_is_offered_up_to_max_rounds(core_driver: CoreDriver) -> None:
    max_rounds = core_driver.env.content.session.max_rounds
    to_holding(core_driver)
    for n in range(1, max_rounds + 1):
        d = finish_round(core_driver)
        assert d.state.round == n
        offered = "Another round here" in core_driver.labels()
        assert offered == (n < max_rounds), n
        if offered:
            core_driver.press("Another round")
            assert core_driver.state.step is Step.HOLD_LENGTH
            core_driver.press("45 s")
            core_driver.press("Start")
    forged = core_driver.send(Press(core_driver.state.prompt, decode_action("again")))
    assert forged.state.step is Step.NEXT
    assert core_driver.labels() == ["Another spot", "Finish"]


def test_another_round_not_offered_after_worse(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver)
    d = finish_round(core_driver, knot="Worse")
    assert content.text("rate.knot_worse") in core_reply_text(d)
    assert core_driver.labels() == ["Another spot", "Finish"]
    forged = core_driver.send(Press(core_driver.state.prompt, decode_action("again")))
    assert forged.state.step is Step.NEXT


def test_another_spot_keeps_screening_and_finish_covers_every_area(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver)
    finish_round(core_driver)
    session = core_driver.state.session
    d = core_driver.press("Another spot")
    assert d.state.step is Step.AREA
    assert d.state.session == session
    assert d.state.round == 0
    assert d.state.area is None
    assert d.state.areas_done == ("upper_back",)
    assert content.text("screening.question", signs="").strip() not in core_reply_text(d)

    core_driver.press(content.area("calves").name)
    core_driver.press("Found it")
    core_driver.press("(recommended)")
    core_driver.press("(recommended)")
    core_driver.press("60 s")
    start = core_driver.press("Start")
    assert start.state.round == 1
    finish_round(core_driver, knot="Same")
    assert core_driver.state.areas_done == ("upper_back", "calves")
    after = core_driver.press("Finish")
    text = core_reply_text(after)
    for area_id in ("upper_back", "calves"):
        assert content.area(area_id).stretch in text
    assert after.state.step is Step.FOLLOWUP


def test_aftercare_mentions_stretch_water_warmth_ice_and_professionals(core_driver: CoreDriver) -> None:
    content = core_driver.env.content
    to_holding(core_driver)
    finish_round(core_driver)
    d = core_driver.press("Finish")
    text = core_reply_text(d).casefold()
    assert content.area("upper_back").stretch.casefold() in text
    for needle in (
        "water",
        "warm compress",
        "ice pack",
        "physical therapist",
        "dry needling",
        "corrective exercises",
    ):
        assert needle in text, needle
    assert d.state.step is Step.FOLLOWUP
    assert labels(last_question(d)) == ["Yes, check in", "No, thanks"]


@pytest.mark.parametrize(
    ("how", "wanted"), [("Yes, check in", True), ("No, thanks", False), ("yes", True), ("nope", False)]
)
def test_followup_answer_is_recorded_and_ends_the_session(
    core_driver: CoreDriver, how: str, wanted: bool
) -> None:
    to_holding(core_driver)
    finish_round(core_driver)
    core_driver.press("Finish")
    session = core_driver.state.session
    d = core_driver.text(how) if how.islower() else core_driver.press(how)
    # yes without a known time zone asks for it first (the session's areas are kept for scheduling)
    assert d.state.step is (Step.TZ_ASK if wanted else Step.IDLE)
    assert [e for e in d.effects if isinstance(e, RecordFollowups)] == [
        RecordFollowups(session=session, wanted=wanted, areas=("upper_back",))
    ]
    assert d.state.areas_done == (("upper_back",) if wanted else ())
    assert d.state.session == session


def test_a_new_session_screens_again(core_driver: CoreDriver) -> None:
    to_holding(core_driver)
    finish_round(core_driver)
    core_driver.press("Finish")
    core_driver.press("No, thanks")
    d = core_driver.command("massage")
    assert d.state.step is Step.SCREENING
    assert d.state.session == 2
    assert d.state.areas_done == ()


# -- commands anywhere -------------------------------------------------------------------


@pytest.mark.parametrize("step", ALL_STEPS)
def test_cancel_anywhere_goes_idle(step_states: dict[Step, State], core_env: Env, step: Step) -> None:
    content = core_env.content
    state = step_states[step]
    d = decide(state, Command("cancel"), core_env)
    assert d.state.step is Step.IDLE
    assert d.state.session == state.session
    text = core_reply_text(d)
    if step is Step.IDLE:
        assert content.text("cancel.nothing") in text
    else:
        assert content.text("cancel.done") in text
        assert d.state.prompt > state.prompt
    assert (Cancel("hold:") in d.effects) == (step is Step.HOLDING)
    if step is Step.HOLDING:
        assert content.text("cancel.release") in text


@pytest.mark.parametrize("step", ALL_STEPS)
def test_massage_anywhere_starts_a_new_screened_session(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    state = step_states[step]
    d = decide(state, Command("massage"), core_env)
    assert d.state.step is Step.SCREENING
    assert d.state.session == state.session + 1
    assert d.state.prompt > state.prompt
    assert (Cancel("hold:") in d.effects) == (step is Step.HOLDING)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_help_lists_commands_and_reasks(step_states: dict[Step, State], core_env: Env, step: Step) -> None:
    state = step_states[step]
    d = decide(state, Command("help"), core_env)
    assert d.state == state
    text = core_reply_text(d)
    for command in ("/massage", "/cancel", "/help"):
        assert command in text
    assert last_question(d) == question(state, core_env)


def test_about_explains_knots(core_driver: CoreDriver) -> None:
    d = core_driver.command("about")
    assert "trigger point" in core_reply_text(d)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_unknown_command_gets_a_hint_and_the_question(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    state = step_states[step]
    d = decide(state, Command("frobnicate"), core_env)
    assert d.state == state
    assert core_env.content.text("hint.unknown_command", command="frobnicate") in core_reply_text(d)
    assert last_question(d) == question(state, core_env)


# -- unexpected input at every step ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
@pytest.mark.parametrize("step", ALL_STEPS)
def test_unsupported_at_every_step_hints_and_reasks(
    step_states: dict[Step, State], core_env: Env, step: Step, kind: str
) -> None:
    state = step_states[step]
    d = decide(state, Unsupported(kind), core_env)
    assert d.state == state
    messages = core_replies(d)
    assert messages[0].text == core_env.content.text("hint.unsupported")
    assert messages[-1] == question(state, core_env)
    if messages[-1].buttons:
        assert button_prompts(messages[-1]) == {state.prompt}


@pytest.mark.parametrize("step", ALL_STEPS)
def test_unsupported_reasks_exactly_what_was_last_asked(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    """Re-asking is identical to the question the person last saw at this step (buttons included)."""
    drv = CoreDriver(core_env, step_states[step])
    first = drv.send(Unsupported("sticker"))
    second = drv.send(Unsupported("sticker"))
    assert last_question(first) == last_question(second)
    assert drv.state == step_states[step]


@pytest.mark.parametrize("step", ALL_STEPS)
def test_stale_button_toasts_and_reasks(step_states: dict[Step, State], core_env: Env, step: Step) -> None:
    content = core_env.content
    state = step_states[step]
    for prompt in (max(0, state.prompt - 5), state.prompt + 3):
        if prompt in (state.prompt, state.prompt - 1):
            continue
        d = decide(state, Press(prompt, decode_action("begin")), core_env)
        assert d.state == state
        assert toasts(d) == [content.text("toast.stale")]
        assert content.text("hint.stale") in core_reply_text(d)
        assert last_question(d) == question(state, core_env)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_double_tap_only_toasts(step_states: dict[Step, State], core_env: Env, step: Step) -> None:
    state = step_states[step]
    d = decide(state, Press(state.prompt - 1, decode_action("none")), core_env)
    assert d.state == state
    assert d.effects == (Toast(core_env.content.text("toast.already")),)


def test_double_tap_of_a_real_button(core_driver: CoreDriver) -> None:
    core_driver.command("massage")
    press = core_driver.button_press("None of these")
    core_driver.send(press)
    state = core_driver.state
    again = core_driver.send(press)
    assert again.state == state
    assert again.effects == (Toast(core_driver.env.content.text("toast.already")),)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_bad_press_toasts_and_reasks(step_states: dict[Step, State], core_env: Env, step: Step) -> None:
    state = step_states[step]
    d = decide(state, BadPress(), core_env)
    assert d.state == state
    assert toasts(d) == [core_env.content.text("toast.stale")]
    assert last_question(d) == question(state, core_env)


@pytest.mark.parametrize("step", ALL_STEPS)
def test_a_current_button_with_a_foreign_action_is_reasked(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    state = step_states[step]
    d = decide(state, Press(state.prompt, decode_action("nonsense:action")), core_env)
    assert d.state == state
    assert toasts(d)
    assert last_question(d) == question(state, core_env)


@pytest.mark.parametrize("blank", ["", "   ", "\n\t "])
@pytest.mark.parametrize("step", ALL_STEPS)
def test_empty_text_hints_and_reasks(
    step_states: dict[Step, State], core_env: Env, step: Step, blank: str
) -> None:
    state = step_states[step]
    d = decide(state, Text(blank), core_env)
    assert d.state == state
    assert core_env.content.text("hint.empty") in core_reply_text(d)
    assert last_question(d) == question(state, core_env)


@pytest.mark.parametrize(
    "step",
    [
        Step.SCREENING,
        Step.SCREENING_PICK,
        Step.LOCATE,
        Step.TOOL,
        Step.TECHNIQUE,
        Step.HOLD_LENGTH,
        Step.HOLD_READY,
        Step.RATE_KNOT,
        Step.NEXT,
    ],
)
def test_text_where_a_button_is_expected_hints_and_reasks(
    step_states: dict[Step, State], core_env: Env, step: Step
) -> None:
    state = step_states[step]
    d = decide(state, Text("hmm, not sure"), core_env)
    assert d.state == state
    assert core_env.content.text("hint.use_buttons") in core_reply_text(d)
    assert last_question(d) == question(state, core_env)


@pytest.fixture(scope="module")
def zones_env(core_env: Env) -> Env:
    """``core_env`` with the typed-time-zone matcher and a location lookup, as the runtime has them."""
    return dataclasses.replace(
        core_env,
        zones=ZoneMatcher(core_env.content.cities),
        locate_tz=lambda lat, lon: "Europe/Berlin" if (lat, lon) == (52.5, 13.4) else None,
    )


@pytest.mark.parametrize("step", ALL_STEPS)
def test_text_that_answers_nothing_keeps_the_state_and_reasks(
    step_states: dict[Step, State], zones_env: Env, step: Step
) -> None:
    """Free text that is no answer, at every step: a hint, the same question, nothing lost."""
    state = step_states[step]
    d = decide(state, Text("qwzx plorf"), zones_env)
    assert d.state == state
    messages = core_replies(d)
    assert len(messages) == 2, [m.text for m in messages]
    assert messages[0].text == zones_env.content.text(NON_ANSWER_HINTS.get(step, "hint.use_buttons"))
    assert messages[-1] == question(state, zones_env)


def test_a_location_shared_at_the_time_zone_close_call_answers_it(
    step_states: dict[Step, State], zones_env: Env
) -> None:
    """The share-location keyboard of the time-zone question is still on screen at the close call."""
    state = step_states[Step.TZ_CONFIRM]
    d = decide(state, Location(52.5, 13.4), zones_env)
    assert d.state.step is Step.IDLE
    assert "Europe/Berlin" in core_reply_text(d)
    at_sea = decide(state, Location(0.0, -30.0), zones_env)
    assert at_sea.state == state
    assert zones_env.content.text("tz.location_failed") in core_reply_text(at_sea)
    assert last_question(at_sea) == question(state, zones_env)


def test_idle_text_says_no_session_and_offers_begin(core_driver: CoreDriver) -> None:
    d = core_driver.text("hello there")
    assert d.state.step is Step.IDLE
    assert core_driver.env.content.text("idle.hint") in core_reply_text(d)
    assert button_actions(last_question(d)) == ["begin"]


def test_every_reply_of_a_full_session_has_text_and_current_buttons(core_driver: CoreDriver) -> None:
    core_driver.command("start")
    to_holding(core_driver)
    finish_round(core_driver)
    core_driver.press("Finish")
    core_driver.press("Yes")
    assert len(core_driver.history) >= 10
    for decision in core_driver.history:
        for effect in decision.effects:
            if isinstance(effect, Reply):
                assert effect.message.text.strip()
                if effect.message.buttons:
                    # empty when every button is an out-of-band follow-up button
                    assert button_prompts(effect.message) in (set(), {decision.state.prompt})


# -- the yes/no question about a possible warning sign ----------------------------------

POSSIBLE_CLOT = "I think my calf might be a bit swollen?"


def to_check(drv: CoreDriver, text: str = POSSIBLE_CLOT) -> Decision:
    to_area(drv)
    decision = drv.text(text)
    assert drv.state.step is Step.WARNING_CHECK
    return decision


def test_a_possible_sign_asks_one_plain_question(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    decision = to_check(drv)
    flag = core_env.content.red_flag("blood_clot")
    asked = last_question(decision)
    assert asked.text == flag.question
    assert [b.label for row in asked.buttons for b in row] == ["Yes", "No"]
    assert (drv.state.check, drv.state.back) == ("blood_clot", Step.AREA)


def test_yes_follows_that_signs_path(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_check(drv)
    decision = drv.press("Yes")
    flag = core_env.content.red_flag("blood_clot")
    assert flag.reply in core_reply_text(decision)
    assert drv.state.step is Step.IDLE  # urgent: the session ends
    assert (drv.state.check, drv.state.back) == (None, None)


def test_no_goes_on_with_the_area_the_text_named(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_check(drv)
    decision = drv.text("No")
    assert core_env.content.text("check.cleared") in core_reply_text(decision)
    assert (drv.state.step, drv.state.area) == (Step.LOCATE, "calves")


def test_no_with_a_close_call_asks_which_area(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_check(drv, "maybe a bit of tingling in my back?")
    drv.press("No")
    assert drv.state.step is Step.AREA_CONFIRM
    assert set(drv.state.candidates) == {"upper_back", "lower_back"}


def test_no_without_an_area_asks_the_area_question(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_check(drv, "maybe a bit of tingling?")
    decision = drv.press("No")
    assert drv.state.step is Step.AREA
    assert last_question(decision) == question(drv.state, core_env)


def test_no_then_the_stated_less_urgent_sign_applies(core_env: Env) -> None:
    """Swollen after a run: the clot question first; No - the swelling still means avoid the spot."""
    drv = CoreDriver(core_env)
    to_check(drv, "my calf is swollen after my run")
    assert (drv.state.check, drv.state.then) == ("blood_clot", "inflammation")
    decision = drv.press("No")
    assert core_env.content.red_flag("inflammation").reply in core_reply_text(decision)
    assert drv.state.step is Step.AREA and drv.state.then is None


def test_a_stated_sign_typed_at_the_question_stops(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_check(drv)
    decision = drv.text("my face is drooping")
    assert core_env.content.red_flag("stroke_signs").reply in core_reply_text(decision)
    assert drv.state.step is Step.IDLE


def test_a_possible_sign_mid_hold_pauses_the_hold(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    to_holding(drv)
    drv.advance(5)
    decision = drv.text("my hand might be going a bit numb?")
    assert Cancel(HOLD_KEY_PREFIX) in decision.effects
    assert core_env.content.text("cancel.release") in core_reply_text(decision)
    assert drv.state.step is Step.WARNING_CHECK and drv.state.back is Step.HOLDING
    decision = drv.press("No")
    # back to the hold, which is over now: the pressure rating
    assert drv.state.step is Step.HOLDING
    assert last_question(decision) == intensity_question(drv.state, core_env)


def test_a_possible_sign_at_idle_returns_to_idle(core_env: Env) -> None:
    drv = CoreDriver(core_env)
    drv.command("start")
    drv.text(POSSIBLE_CLOT)
    assert drv.state.step is Step.WARNING_CHECK and drv.state.back is Step.IDLE
    drv.press("No")
    assert drv.state.step is Step.IDLE


def test_a_warning_check_state_that_does_not_fit_is_reset(core_env: Env) -> None:
    bad = State(step=Step.WARNING_CHECK, prompt=3, check="no_such_sign", back=Step.AREA)
    assert not is_consistent(bad, core_env.content)
    assert not is_consistent(State(step=Step.AREA, check="blood_clot"), core_env.content)
    assert is_consistent(
        State(step=Step.WARNING_CHECK, prompt=3, check="blood_clot", back=Step.AREA), core_env.content
    )
