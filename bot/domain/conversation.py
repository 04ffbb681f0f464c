"""The conversation rules: ``decide(state, event, env)`` returns the next state and effects.

This is the whole coaching flow — screening, area, locate, tool, technique,
hold, ratings, aftercare — as a pure function. Adapters (Telegram, terminal)
translate updates into :mod:`events <bot.domain.events>` and carry out the
returned :mod:`effects <bot.domain.effects>`; the database stores the state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace

from bot.domain import followups, plan_chat, privacy
from bot.domain.actions import (
    Action,
    Area,
    Band,
    Flag,
    FollowupTap,
    HoldLength,
    Intensity,
    Knot,
    Tap,
    Technique,
    Tool,
)
from bot.domain.content import Content, RedFlag, Severity
from bot.domain.decision import Decision, Env
from bot.domain.effects import (
    Button,
    Cancel,
    Effect,
    Kind,
    Message,
    RecordFollowups,
    RecordRound,
    Reply,
    Schedule,
    SetProfile,
    ShowProgress,
    ShowStreak,
    Toast,
)
from bot.domain.events import BadPress, Command, Event, Location, Press, Text, Unsupported, encode_press
from bot.domain.matcher import MatchResult
from bot.domain.pictures import attachment_spec
from bot.domain.pictures import describe as describe_picture
from bot.domain.state import State, Step

HOLD_KEY_PREFIX = "hold:"
CHECK_YES = Tap.YES
CHECK_NO = Tap.NO
# free text typed here is about the person's problem: an area named with it is kept
AREA_STEPS = frozenset({Step.AREA, Step.AREA_CONFIRM})
INTENSITIES = ("light", "right", "much")
KNOT_FEELS = ("softer", "same", "worse")
YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "sure", "ok", "okay", "please"})
NO_WORDS = frozenset({"no", "n", "nope", "none", "nah", "no thanks", "none of these", "nothing"})
# sessions end here for these severities; avoid_spot only redirects to another area
ENDING_SEVERITIES = frozenset(
    {Severity.EMERGENCY, Severity.URGENT, Severity.PROFESSIONAL, Severity.ASK_FIRST}
)


# -- small helpers ----------------------------------------------------------------


def _btn(state: State, label: str, action: Action) -> Button:
    return Button(label=label, data=encode_press(state.prompt, action))


def _rows(*buttons: Button) -> tuple[tuple[Button, ...], ...]:
    """One button per row: easy to hit with a thumb while holding a ball."""
    return tuple((b,) for b in buttons)


def _reply(text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return Reply(Message(text=text, buttons=buttons))


def visible(text: str) -> bool:
    """Does ``text`` show anything: not only spaces and invisible format characters (zero-width
    spaces and joiners, direction marks; Unicode category Cf)?"""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def _normal(text: str) -> str:
    return " ".join(text.casefold().strip().strip(".!?").split())


# -- the question asked at each step ------------------------------------------------


def question(state: State, env: Env) -> Message:
    """The message that asks what the current step is waiting for (used to re-ask)."""
    c = env.content
    t = c.text
    step = state.step
    if step is Step.IDLE:
        return Message(t("idle.prompt"), _rows(_btn(state, t("button.begin"), Tap.BEGIN)))
    if step is Step.SCREENING:
        signs = "\n".join(f"• {f.description}" for f in c.red_flags)
        return Message(
            t("screening.question", signs=signs),
            _rows(
                _btn(state, t("button.none_apply"), Tap.NONE), _btn(state, t("button.one_applies"), Tap.SOME)
            ),
        )
    if step is Step.SCREENING_PICK:
        flags = [_btn(state, f.label, Flag(f.id)) for f in c.red_flags]
        return Message(t("screening.pick"), _rows(*flags, _btn(state, t("button.none_apply"), Tap.NONE)))
    if step is Step.AREA:
        buttons = [_btn(state, a.name, Area(a.id)) for a in c.areas]
        rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
        return Message(t("area.question"), rows)
    if step is Step.AREA_CONFIRM:
        cands = [_btn(state, c.area(a).name, Area(a)) for a in state.candidates]
        return Message(
            t("area.did_you_mean"), _rows(*cands, _btn(state, t("button.none_of_those"), Tap.OTHER))
        )
    if step is Step.LOCATE:
        area = c.area(_need(state.area))
        buttons = [_btn(state, t("button.found_it"), Tap.FOUND)]
        if state.locate_tries < 2:
            buttons.append(_btn(state, t("button.cant_find"), Tap.CANT))
        else:
            buttons += [
                _btn(state, t("button.other_spot"), Tap.SPOT),
                _btn(state, t("button.finish"), Tap.FINISH),
            ]
        return Message(t("locate.question", area=area.name, knots_sit=area.knots_sit), _rows(*buttons))
    if step is Step.TOOL:
        area = c.area(_need(state.area))
        lines = []
        buttons = []
        for i, setup in enumerate(area.tools):
            tool = c.tool(setup.tool)
            label = t("button.recommended", label=tool.name) if i == 0 else tool.name
            lines.append(f"• {label}: {tool.why}")
            buttons.append(_btn(state, label, Tool(tool.id)))
        return Message(t("tool.question", area=area.name, tools="\n".join(lines)), _rows(*buttons))
    if step is Step.TECHNIQUE:
        lines = []
        buttons = []
        for tech in c.techniques:
            label = t("button.recommended", label=tech.name) if tech.recommended else tech.name
            lines.append(f"• {label}: {tech.summary}")
            buttons.append(_btn(state, label, Technique(tech.id)))
        return Message(t("technique.question", techniques="\n".join(lines)), _rows(*buttons))
    if step is Step.HOLD_LENGTH:
        secs = [_btn(state, t("button.seconds", seconds=s), HoldLength(s)) for s in c.session.hold_seconds]
        return Message(t("hold.length_question"), (tuple(secs),))
    if step is Step.HOLD_READY:
        return Message(
            t("hold.ready", seconds=state.hold_seconds),
            _rows(_btn(state, t("button.start"), Tap.START), _btn(state, t("button.cancel"), Tap.CANCEL)),
        )
    if step is Step.HOLDING:
        if state.hold_ends_at is not None and env.now >= state.hold_ends_at:
            return intensity_question(state, env)
        if paused(state):
            return Message(t("hold.paused", left=_whole(state.hold_left)), hold_buttons(state, env))
        return Message(t("hold.in_progress"), hold_buttons(state, env))
    if step is Step.RATE_KNOT:
        labels = [t(f"button.knot_{k}") for k in KNOT_FEELS]
        return Message(
            t("rate.knot_question"),
            (tuple(_btn(state, label, Knot(k)) for label, k in zip(labels, KNOT_FEELS, strict=True)),),
        )
    if step is Step.NEXT:
        return next_question(state, env)
    if step is Step.TZ_ASK:
        return followups.tz_question(state, env)
    if step is Step.TZ_CONFIRM:
        return followups.tz_candidates_question(state, env)
    if step is Step.WARNING_CHECK:
        return warning_check_question(state, env)
    if step in plan_chat.PLAN_STEPS:
        return plan_chat.question(state, env)
    # Step.FOLLOWUP
    return Message(
        t("followup.question"),
        _rows(
            _btn(state, t("button.followups_yes"), Tap.FOLLOWUPS_YES),
            _btn(state, t("button.followups_no"), Tap.FOLLOWUPS_NO),
        ),
    )


def warning_check_question(state: State, env: Env) -> Message:
    """One plain yes/no question about a warning sign that free text only possibly named."""
    t = env.content.text
    flag = env.content.red_flag(_need(state.check))
    return Message(
        flag.question,
        ((_btn(state, t("button.yes"), CHECK_YES), _btn(state, t("button.no"), CHECK_NO)),),
    )


def hold_buttons(state: State, env: Env) -> tuple[tuple[Button, ...], ...]:
    t = env.content.text
    if paused(state):
        return ((_btn(state, t("button.resume"), Tap.RESUME), _btn(state, t("button.stop"), Tap.STOP)),)
    return (
        (
            _btn(state, t("button.too_intense"), Tap.INTENSE),
            _btn(state, t("button.pause"), Tap.PAUSE),
            _btn(state, t("button.stop"), Tap.STOP),
        ),
    )


def paused(state: State) -> bool:
    """A hold paused with Pause: its prompts are cancelled until Resume."""
    return state.step is Step.HOLDING and state.hold_left is not None and state.hold_ends_at is None


def _whole(seconds: float | None) -> int:
    return max(1, round(seconds or 0))


def intensity_question(state: State, env: Env) -> Message:
    t = env.content.text
    labels = [t(f"button.intensity_{i}") for i in INTENSITIES]
    return Message(
        t("rate.intensity_question"),
        (tuple(_btn(state, label, Intensity(i)) for label, i in zip(labels, INTENSITIES, strict=True)),),
    )


def next_question(state: State, env: Env) -> Message:
    t = env.content.text
    buttons = []
    if state.round < env.content.session.max_rounds and state.knot != "worse":
        buttons.append(_btn(state, t("button.another_round"), Tap.AGAIN))
    buttons += [_btn(state, t("button.other_spot"), Tap.SPOT), _btn(state, t("button.finish"), Tap.FINISH)]
    return Message(
        t("next.question", rounds=state.round, max_rounds=env.content.session.max_rounds), _rows(*buttons)
    )


def _need(value: str | None) -> str:
    if value is None:
        raise ValueError("state is missing a value this step needs")
    return value


# -- transitions -------------------------------------------------------------------


def ask(state: State, env: Env, *before: Effect) -> Decision:
    """Store ``state`` and send what came before plus its question."""
    return Decision(state, (*before, Reply(question(state, env))))


def start_session(state: State, env: Env, *before: Effect) -> Decision:
    return start_planned(state, env, None, *before)


def start_planned(state: State, env: Env, area: str | None, *before: Effect) -> Decision:
    """A new session; ``area`` (from a plan reminder) is taken once the screening is answered."""
    fresh = State(prompt=state.prompt, session=state.session + 1, planned=area)
    return ask(
        fresh.advance(Step.SCREENING),
        env,
        *before,
        *_cancel_hold(state),
        _reply(env.content.text("screening.intro")),
    )


def _cancel_hold(state: State) -> tuple[Effect, ...]:
    return (Cancel(HOLD_KEY_PREFIX),) if state.step is Step.HOLDING else ()


def end_session(state: State, *before: Effect) -> Decision:
    idle = State(prompt=state.prompt + 1, session=state.session)
    return Decision(idle, (*_cancel_hold(state), *before))


def red_flag_reply(flag: RedFlag, state: State, env: Env) -> Decision:
    """Stop self-massage and say where to get help; avoid-spot redirects to another area."""
    t = env.content.text
    text = t("flag.reply", reply=flag.reply, action=env.content.severities[flag.severity])
    if (
        state.step is Step.IDLE or state.step in plan_chat.PLAN_STEPS
    ) and flag.severity not in ENDING_SEVERITIES:
        # no session yet: say why, and let screening happen when they begin
        return ask(state, env, _reply(text))
    if flag.severity in ENDING_SEVERITIES:
        closing = t("flag.ended_emergency") if flag.severity is Severity.EMERGENCY else t("flag.ended")
        return end_session(state, _reply(text), _reply(closing))
    moved = replace(state, area=None, candidates=(), tool=None, technique=None, round=0)
    return ask(
        moved.advance(Step.AREA), env, *_cancel_hold(state), _reply(text), _reply(t("flag.other_area"))
    )


def area_chosen(state: State, area_id: str, env: Env, *before: Effect) -> Decision:
    area = env.content.area(area_id)
    t = env.content.text
    chosen = State(
        prompt=state.prompt,
        session=state.session,
        area=area_id,
        areas_done=state.areas_done,
    ).advance(Step.LOCATE)
    avoid = "\n".join(f"• {z}" for z in area.avoid)
    return ask(
        chosen, env, *before, _reply(t("area.confirmed", area=area.name, where=area.where, avoid=avoid))
    )


def warning_check(state: State, result: MatchResult, env: Env) -> Decision:
    """Ask one yes/no question about a sign the text only possibly named; a hold pauses first."""
    flag = _need(result.ask)
    before: list[Effect] = []
    held = state
    if state.step is Step.HOLDING and not (state.hold_ends_at is not None and env.now >= state.hold_ends_at):
        before += [Cancel(HOLD_KEY_PREFIX), _reply(env.content.text("cancel.release"))]
        held = replace(state, hold_ends_at=env.now, hold_left=None)  # a paused hold ends too
    candidates = held.candidates
    if state.step in AREA_STEPS:
        found = (result.area,) if result.area is not None else tuple(c.area for c in result.candidates)
        candidates = found[:3] or candidates
    checking = held.advance(
        Step.WARNING_CHECK, check=flag, back=state.step, then=result.then, candidates=candidates
    )
    return ask(checking, env, *before)


def on_check_answer(state: State, yes: bool, env: Env) -> Decision:
    """Yes: the sign's own reply. No: back to where the person was (an area they named is taken)."""
    back = state.back or Step.IDLE
    resumed = replace(state, step=back, check=None, back=None, then=None)
    if yes or state.then is not None:
        flag = env.content.red_flag(_need(state.check if yes else state.then))
        return red_flag_reply(flag, replace(resumed, prompt=state.prompt + 1), env)
    cleared = _reply(env.content.text("check.cleared"))
    if back in AREA_STEPS:
        if len(resumed.candidates) == 1:
            return area_chosen(resumed, resumed.candidates[0], env, cleared)
        if resumed.candidates:
            return ask(resumed.advance(Step.AREA_CONFIRM), env, cleared)
        return ask(resumed.advance(Step.AREA), env, cleared)
    return ask(resumed.advance(back), env, cleared)


def on_text(state: State, text: str, env: Env) -> Decision:
    t = env.content.text
    result = env.matcher.match(text)
    if result.red_flag is not None and state.step is not Step.IDLE:
        return red_flag_reply(env.content.red_flag(result.red_flag), state, env)
    words = _normal(text)
    if state.step is Step.WARNING_CHECK:
        if words in YES_WORDS or words in NO_WORDS:
            return on_check_answer(state, words in YES_WORDS, env)
        return ask(state, env, _reply(t("check.hint")))
    if result.ask is not None:
        return warning_check(state, result, env)
    if state.step is Step.IDLE:
        if result.red_flag is not None:
            return red_flag_reply(env.content.red_flag(result.red_flag), state, env)
        return ask(state, env, _reply(t("idle.hint")))
    if state.step in (Step.SCREENING, Step.SCREENING_PICK):
        if words in NO_WORDS:
            return screening_cleared(state, env)
        if words in YES_WORDS and state.step is Step.SCREENING:
            return ask(state.advance(Step.SCREENING_PICK), env)
        return ask(state, env, _reply(t("hint.use_buttons")))
    if state.step in (Step.AREA, Step.AREA_CONFIRM):
        if result.area is not None:
            return area_chosen(state, result.area, env)
        if len(result.candidates) >= 2:
            cands = tuple(c.area for c in result.candidates[:3])
            return ask(state.advance(Step.AREA_CONFIRM, candidates=cands), env)
        # nothing matched: the same question again, its buttons (and any close call) still valid
        return ask(state, env, _reply(t("area.no_match")))
    if state.step in (Step.TZ_ASK, Step.TZ_CONFIRM):
        found = followups.on_tz_text(state, text, env)
        if found is not None:
            return found
    if state.step is Step.PLAN_TIME:
        return plan_chat.on_time_text(state, text, env)
    if state.step is Step.FOLLOWUP and words in YES_WORDS | NO_WORDS:
        answer = Tap.FOLLOWUPS_YES if words in YES_WORDS else Tap.FOLLOWUPS_NO
        return on_press(state, Press(state.prompt, answer), env)
    if state.step is Step.HOLDING and not (state.hold_ends_at is not None and env.now >= state.hold_ends_at):
        return ask(state, env, _reply(t("hint.holding")))
    return ask(state, env, _reply(t("hint.use_buttons")))


def on_command(state: State, name: str, env: Env) -> Decision:
    t = env.content.text
    if name == "start":
        greeting = _reply(t("start.greeting"))
        if state.step is Step.IDLE:
            return ask(state.advance(Step.IDLE), env, greeting)
        return ask(state, env, greeting, _reply(t("start.in_session")))
    if name == "massage":
        return start_session(state, env)
    if name == "cancel":
        if state.step is Step.IDLE:
            return ask(state, env, _reply(t("cancel.nothing")))
        release = (_reply(t("cancel.release")),) if state.step is Step.HOLDING else ()
        idle = end_session(state, *release, _reply(t("cancel.done")))
        return ask(idle.state, env, *idle.effects)
    if name == "help":
        return ask(state, env, _reply(t("help")))
    if name == "about":
        return ask(state, env, _reply(t("about")))
    if name == "progress":
        return ask(state, env, ShowProgress())
    if name in privacy.COMMANDS:
        return privacy.on_command(state, name, env, ask)
    if name == plan_chat.COMMAND:
        return plan_chat.on_command(state, env, ask)
    if name == "reminders":
        menu = followups.reminders_menu(env)
        return Decision(state, (menu,)) if state.step is Step.IDLE else ask(state, env, menu)
    # Telegram commands have at most 32 characters: never echo more of what was typed
    return ask(state, env, _reply(t("hint.unknown_command", command=name[:32])))


def on_stale(state: State, press: Press, env: Env) -> Decision:
    t = env.content.text
    if press.prompt == state.prompt - 1:
        return Decision(state, (Toast(t("toast.already")),))
    return ask(state, env, Toast(t("toast.stale")), _reply(t("hint.stale")))


def on_press(state: State, press: Press, env: Env) -> Decision:
    band = press.action.band
    if band is Band.PRIVACY:
        return privacy.on_press(state, press, env, ask)
    if band is Band.PLAN:
        return plan_chat.on_press(state, press.action, env, ask, start_planned)
    if band is Band.FOLLOWUP:
        # follow-up buttons answer messages sent later, whatever the conversation is doing
        if press.action is FollowupTap.MASSAGE:
            return start_session(state, env)
        found = followups.on_press(state, press.action, env)
        if found is None:
            return Decision(state, (Toast(env.content.text("toast.stale")),))
        return found
    if press.prompt != state.prompt:
        return on_stale(state, press, env)
    handler = PRESS_HANDLERS.get(state.step)
    decision = handler(state, press.action, env) if handler else None
    if decision is None:
        # a well-formed button of this question whose action does not fit: re-ask
        return ask(state, env, Toast(env.content.text("toast.stale")))
    return decision


def _check_press(state: State, action: Action, env: Env) -> Decision | None:
    if action in (CHECK_YES, CHECK_NO):
        return on_check_answer(state, action is CHECK_YES, env)
    return None


def _idle_press(state: State, action: Action, env: Env) -> Decision | None:
    return start_session(state, env) if action is Tap.BEGIN else None


def screening_cleared(state: State, env: Env) -> Decision:
    """No warning sign: the area question, or straight to the area of a plan reminder's Start."""
    cleared = _reply(env.content.text("screening.cleared"))
    if state.planned is not None:
        return area_chosen(state, state.planned, env, cleared)
    return ask(state.advance(Step.AREA), env, cleared)


def _screening_press(state: State, action: Action, env: Env) -> Decision | None:
    match action:
        case Tap.NONE:
            return screening_cleared(state, env)
        case Tap.SOME if state.step is Step.SCREENING:
            return ask(state.advance(Step.SCREENING_PICK), env)
        case Flag(flag_id):
            try:
                flag = env.content.red_flag(flag_id)
            except KeyError:
                return None
            return red_flag_reply(flag, state, env)
    return None


def _area_press(state: State, action: Action, env: Env) -> Decision | None:
    match action:
        case Tap.OTHER:
            return ask(state.advance(Step.AREA, candidates=()), env)
        case Area(area_id) if area_id in {a.id for a in env.content.areas}:
            return area_chosen(state, area_id, env)
    return None


def _locate_press(state: State, action: Action, env: Env) -> Decision | None:
    t = env.content.text
    match action:
        case Tap.FOUND:
            return ask(state.advance(Step.TOOL), env)
        case Tap.CANT if state.locate_tries < 2:
            key = "locate.tips" if state.locate_tries == 0 else "locate.warm_up"
            return ask(state.advance(Step.LOCATE, locate_tries=state.locate_tries + 1), env, _reply(t(key)))
        case Tap.SPOT | Tap.FINISH:
            return _next_press(state, action, env)
    return None


def _tool_press(state: State, action: Action, env: Env) -> Decision | None:
    if not isinstance(action, Tool):
        return None
    area = env.content.area(_need(state.area))
    tool_id = action.id
    setup = next((s for s in area.tools if s.tool == tool_id), None)
    if setup is None:
        return None
    tool = env.content.tool(tool_id)
    text = env.content.text("tool.setup", tool=tool.name, area=area.name, setup=setup.setup)
    # the picture of where to put this tool; the caption says the same in words, for screen readers
    picture = describe_picture(env.content, area.id, tool_id)
    shown = Message(text, attachment=attachment_spec(area.id, tool_id), about_attachment=picture)
    return ask(state.advance(Step.TECHNIQUE, tool=tool_id), env, Reply(shown))


def _technique_press(state: State, action: Action, env: Env) -> Decision | None:
    if not isinstance(action, Technique) or action.id not in {t.id for t in env.content.techniques}:
        return None
    return ask(state.advance(Step.HOLD_LENGTH, technique=action.id), env)


def _length_press(state: State, action: Action, env: Env) -> Decision | None:
    if not isinstance(action, HoldLength) or action.seconds not in env.content.session.hold_seconds:
        return None
    return ask(state.advance(Step.HOLD_READY, hold_seconds=action.seconds), env)


def _ready_press(state: State, action: Action, env: Env) -> Decision | None:
    if action is Tap.CANCEL:
        return on_command(state, "cancel", env)
    if action is not Tap.START:
        return None
    return start_hold(state, env)


def start_hold(state: State, env: Env) -> Decision:
    """ "Get into position", a short countdown, then the prompts, all scheduled through the database."""
    c = env.content
    t = c.text
    seconds = _need_int(state.hold_seconds)
    lead = c.session.get_ready_seconds
    holding = state.advance(
        Step.HOLDING,
        hold_ends_at=env.now + (lead + seconds) * env.time_scale,
        round=state.round + 1,
        hold_left=None,
    )
    buttons = hold_buttons(holding, env)
    tool = c.tool(_need(state.tool)).name.lower()
    effects: list[Effect] = [
        _reply(t("hold.started", seconds=seconds)),
        Reply(Message(t("hold.get_ready", tool=tool, seconds=lead), buttons)),
    ]
    prefix = _hold_prefix(holding)
    for n in range(c.session.countdown_from, 0, -1):
        effects.append(
            Schedule(
                key=f"{prefix}c{n}",
                delay=(lead - n) * env.time_scale,
                message=Message(t("hold.countdown", n=n), buttons),
                kind=Kind.HOLD_COUNTDOWN,  # dropped quietly when late: the hold itself is still to come
                late_after=_late_after(env),
            )
        )
    return Decision(holding, (*effects, *_hold_schedules(holding, env, lead=lead, elapsed=None)))


def _hold_prefix(holding: State) -> str:
    # the question number is unique per hold (and per resume), even when a second area restarts
    # the round count
    return f"{HOLD_KEY_PREFIX}{holding.session}:{holding.prompt}:"


def _late_after(env: Env) -> float:
    return max(1.0, env.content.session.prompt_late_after_seconds * env.time_scale)


def _timed_prompts(seconds: int, technique: str, env: Env) -> list[tuple[float, str]]:
    """(seconds into the hold, text) of every prompt of a hold, in order."""
    c = env.content
    timed: list[tuple[float, str]] = [
        (p.at * seconds, c.text("hold.prompt", text=p.text))
        for p in c.session.prompts
        if not p.techniques or technique in p.techniques
    ]
    if technique == "stripping":
        stroke = c.session.stripping_stroke_seconds
        free = [s for s in range(stroke, seconds, stroke) if all(abs(s - at) > 2 for at, _ in timed)]
        timed += [(float(s), c.text("hold.stroke", n=n)) for n, s in enumerate(free, start=1)]
    timed.sort(key=lambda item: item[0])
    return timed


def _hold_schedules(holding: State, env: Env, *, lead: float, elapsed: float | None) -> list[Schedule]:
    """The prompts and the end of a hold, ``lead`` seconds from now; ``elapsed``: a resumed hold,
    so only the prompts after that many seconds (its first prompt is the "press in again" reply)."""
    seconds = _need_int(holding.hold_seconds)
    done = elapsed if elapsed is not None else -1.0
    buttons = hold_buttons(holding, env)
    prefix = _hold_prefix(holding)
    out = [
        Schedule(
            key=f"{prefix}{i}",
            delay=(lead + at - max(done, 0.0)) * env.time_scale,
            message=Message(text, buttons),
            kind=Kind.HOLD_PROMPT,
            # "press in now" starts the hold: like its end, it is never dropped for being late
            late_after=None if at == 0 else _late_after(env),
        )
        for i, (at, text) in enumerate(_timed_prompts(seconds, _need(holding.technique), env))
        if at > done
    ]
    end = intensity_question(holding, env)
    out.append(
        Schedule(
            key=f"{prefix}end",
            delay=(lead + seconds - max(done, 0.0)) * env.time_scale,
            message=Message(env.content.text("hold.end", text=end.text), end.buttons),
            kind=Kind.HOLD_END,
        )
    )
    return out


def _need_int(value: int | None) -> int:
    if value is None:
        raise ValueError("state is missing the hold length")
    return value


def _holding_press(state: State, action: Action, env: Env) -> Decision | None:
    t = env.content.text
    match action:
        case Tap.INTENSE:
            if state.hold_ends_at is not None and env.now >= state.hold_ends_at:
                return ask(state, env, Toast(t("toast.hold_over")))
            if paused(state):
                return ask(state, env, Toast(t("toast.paused")))
            return Decision(state, (Toast(t("toast.eased")), _reply(t("hold.too_intense"))))
        case Tap.STOP:
            stopped = state.advance(Step.HOLDING, hold_ends_at=env.now, hold_left=None)
            return ask(stopped, env, Cancel(HOLD_KEY_PREFIX), _reply(t("hold.stopped")))
        case Tap.PAUSE | Tap.RESUME:
            return _pause_or_resume(state, action is Tap.PAUSE, env)
        case Intensity(intensity) if intensity in INTENSITIES:
            # a rating ends the hold, even if it came early: cancel what is left
            before: list[Effect] = [Cancel(HOLD_KEY_PREFIX)]
            if intensity != "right":
                before.append(_reply(t(f"rate.intensity_{intensity}")))
            return ask(
                state.advance(Step.RATE_KNOT, intensity=intensity, hold_ends_at=None, hold_left=None),
                env,
                *before,
            )
    return None


def _pause_or_resume(state: State, pause: bool, env: Env) -> Decision | None:
    """Pause: the prompts stop, the seconds still to go are kept. Resume: the rest of the hold."""
    t = env.content.text
    seconds = _need_int(state.hold_seconds)
    if pause:
        if paused(state) or state.hold_ends_at is None or env.now >= state.hold_ends_at:
            return ask(state, env, Toast(t("toast.hold_over") if not paused(state) else t("toast.paused")))
        left = min(float(seconds), (state.hold_ends_at - env.now) / env.time_scale)
        held = state.advance(Step.HOLDING, hold_ends_at=None, hold_left=left)
        return ask(held, env, Cancel(HOLD_KEY_PREFIX), Toast(t("toast.paused")))
    if not paused(state):
        return None
    left = state.hold_left or 0.0
    resumed = state.advance(Step.HOLDING, hold_ends_at=env.now + left * env.time_scale, hold_left=None)
    again = Reply(Message(t("hold.resumed", left=_whole(left)), hold_buttons(resumed, env)))
    return Decision(resumed, (again, *_hold_schedules(resumed, env, lead=0.0, elapsed=seconds - left)))


def _knot_press(state: State, action: Action, env: Env) -> Decision | None:
    if not isinstance(action, Knot) or action.feel not in KNOT_FEELS:
        return None
    knot = action.feel
    record = RecordRound(
        session=state.session,
        round=state.round,
        area=_need(state.area),
        tool=_need(state.tool),
        technique=_need(state.technique),
        hold_seconds=_need_int(state.hold_seconds),
        intensity=_need(state.intensity),
        knot=knot,
    )
    done = state.areas_done if state.area in state.areas_done else (*state.areas_done, _need(state.area))
    after = state.advance(Step.NEXT, knot=knot, areas_done=done)
    return ask(after, env, record, _reply(env.content.text(f"rate.knot_{knot}")))


def _next_press(state: State, action: Action, env: Env) -> Decision | None:
    if action is Tap.AGAIN and state.round < env.content.session.max_rounds and state.knot != "worse":
        return ask(state.advance(Step.HOLD_LENGTH), env)
    if action is Tap.SPOT:
        moved = replace(
            state, area=None, candidates=(), tool=None, technique=None, round=0, locate_tries=0, knot=None
        )
        return ask(moved.advance(Step.AREA), env)
    if action is Tap.FINISH:
        return aftercare(state, env)
    return None


def aftercare(state: State, env: Env) -> Decision:
    c = env.content
    t = c.text
    if not state.areas_done:
        return end_session(state, _reply(t("aftercare.nothing_done")))
    stretches = "\n".join(f"• {c.area(a).name}: {c.area(a).stretch}" for a in state.areas_done)
    return ask(
        state.advance(Step.FOLLOWUP),
        env,
        _reply(t("aftercare.stretch", stretches=stretches)),
        _reply(t("aftercare.care")),
        _reply(t("aftercare.professional")),
        ShowStreak(),
    )


def _followup_press(state: State, action: Action, env: Env) -> Decision | None:
    if action is not Tap.FOLLOWUPS_YES and action is not Tap.FOLLOWUPS_NO:
        return None
    wanted = action is Tap.FOLLOWUPS_YES
    record = RecordFollowups(session=state.session, wanted=wanted, areas=state.areas_done)
    if wanted:
        opted = followups.opt_in(state, env)
        return plan_chat.offer(state, Decision(opted.state, (record, *opted.effects)), env)
    profile = SetProfile(replace(env.profile, followups=False))
    return plan_chat.offer(
        state, end_session(state, record, profile, _reply(env.content.text("followup.no"))), env
    )


PRESS_HANDLERS: dict[Step, Callable[[State, Action, Env], Decision | None]] = {
    Step.IDLE: _idle_press,
    Step.SCREENING: _screening_press,
    Step.SCREENING_PICK: _screening_press,
    Step.AREA: _area_press,
    Step.AREA_CONFIRM: _area_press,
    Step.LOCATE: _locate_press,
    Step.TOOL: _tool_press,
    Step.TECHNIQUE: _technique_press,
    Step.HOLD_LENGTH: _length_press,
    Step.HOLD_READY: _ready_press,
    Step.HOLDING: _holding_press,
    Step.RATE_KNOT: _knot_press,
    Step.NEXT: _next_press,
    Step.FOLLOWUP: _followup_press,
    Step.TZ_ASK: followups.on_tz_press,
    Step.TZ_CONFIRM: followups.on_tz_press,
    Step.WARNING_CHECK: _check_press,
    **dict.fromkeys(plan_chat.PLAN_STEPS, plan_chat.on_step_press),
}


def is_consistent(state: State, content: Content) -> bool:
    """Does the state have what its step needs, with ids that exist in this content?"""
    areas = {a.id for a in content.areas}
    if state.area is not None and state.area not in areas:
        return False
    if not plan_chat.is_consistent(state, content):
        return False
    if not set(state.candidates) <= areas or not set(state.areas_done) <= areas:
        return False
    needs = NEEDS.get(state.step, ())
    if "area" in needs and state.area is None:
        return False
    if "tool" in needs and (
        state.area is None or state.tool not in {s.tool for s in content.area(state.area).tools}
    ):
        return False
    if "technique" in needs and state.technique not in {t.id for t in content.techniques}:
        return False
    if "hold" in needs and state.hold_seconds not in content.session.hold_seconds:
        return False
    if "intensity" in needs and state.intensity not in INTENSITIES:
        return False
    if state.step is Step.TZ_CONFIRM and not state.zones:
        return False
    if state.step is Step.WARNING_CHECK:
        flags = {f.id for f in content.red_flags}
        if state.check not in flags or state.back is None or state.back is Step.WARNING_CHECK:
            return False
        if state.then is not None and state.then not in flags:
            return False
        return is_consistent(replace(state, step=state.back, check=None, back=None, then=None), content)
    if state.check is not None or state.back is not None or state.then is not None:
        return False
    return not (state.step is Step.AREA_CONFIRM and not state.candidates)


NEEDS: dict[Step, tuple[str, ...]] = {
    Step.LOCATE: ("area",),
    Step.TOOL: ("area",),
    Step.TECHNIQUE: ("area", "tool"),
    Step.HOLD_LENGTH: ("area", "tool", "technique"),
    Step.HOLD_READY: ("area", "tool", "technique", "hold"),
    Step.HOLDING: ("area", "tool", "technique", "hold"),
    Step.RATE_KNOT: ("area", "tool", "technique", "hold", "intensity"),
    Step.NEXT: ("area",),
}


def decide(state: State, event: Event, env: Env) -> Decision:
    """The single entry point: apply one event to one person's state."""
    t = env.content.text
    if not is_consistent(state, env.content):
        # stored state that no longer fits the content (an area renamed, say): start afresh
        fresh = State(prompt=state.prompt + 1, session=state.session)
        return ask(fresh, env, *_cancel_hold(state), _reply(t("hint.reset")))
    if isinstance(event, Command):
        return on_command(state, event.name, env)
    if isinstance(event, Text):
        if not visible(event.text):
            return ask(state, env, _reply(t("hint.empty")))
        return on_text(state, event.text, env)
    if isinstance(event, Press):
        return on_press(state, event, env)
    if isinstance(event, BadPress):
        return ask(state, env, Toast(t("toast.stale")), _reply(t("hint.stale")))
    if isinstance(event, Location):
        located = followups.on_location(state, event.latitude, event.longitude, env)
        if state.step in followups.TZ_STEPS:
            return located
        return ask(state, env, *located.effects)
    assert isinstance(event, Unsupported)
    return ask(state, env, _reply(t("hint.unsupported")))
