"""/plan in the conversation: setting a practice plan up, its summary, and the reminder's buttons.

Pure, like the rest of the core. Setting up is four questions (steps
``PLAN_AREAS``, ``PLAN_DAYS``, ``PLAN_WEEKDAYS``, ``PLAN_TIME``), then the time
zone if it is not known yet (the follow-ups' question, :func:`followups.ask_tz`).
The summary's and the reminders' buttons work whatever the conversation is
doing ("out of band", like follow-up buttons): prompt 0, actions of the plan band
(:class:`bot.domain.actions.PlanTap`, ``PlanGo``, ``PlanSnooze``, ``PlanSkip``; ``pl.`` on
the wire). The rules (due times, what a due reminder does) are in
:mod:`bot.domain.plan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.domain import followups
from bot.domain.actions import (
    Action,
    PlanArea,
    PlanGo,
    PlanSkip,
    PlanSnooze,
    PlanTap,
    PlanTime,
    PlanWeekday,
    Tap,
)
from bot.domain.content import Content
from bot.domain.decision import Decision, Env
from bot.domain.effects import (
    Button,
    Cancel,
    DropPlan,
    Effect,
    Kind,
    Message,
    Reply,
    SavePlan,
    Schedule,
    SetProfile,
    Toast,
)
from bot.domain.events import Command, Event, Press, encode_press
from bot.domain.plan import (
    EVERY_DAY,
    KEY_PREFIX,
    SNOOZE_KEY_PREFIX,
    WEEKDAYS,
    Plan,
    day_key,
    in_quiet,
    next_due,
    parse_time,
    planned_at,
    reminder_key,
)
from bot.domain.profile import Profile
from bot.domain.state import State, Step
from bot.domain.timing import next_allowed, zone

COMMAND = "plan"
PLAN_STEPS = frozenset({Step.PLAN_AREAS, Step.PLAN_DAYS, Step.PLAN_WEEKDAYS, Step.PLAN_TIME})
WENT_WELL = frozenset({"softer"})  # the last round's knot rating after which a plan is offered


class Ask(Protocol):
    """``conversation.ask``: store the state and send ``before`` plus the current question."""

    def __call__(self, state: State, env: Env, *before: Effect) -> Decision: ...


class Start(Protocol):
    """``conversation.start_session`` on a planned area (the screening is asked first, as always)."""

    def __call__(self, state: State, env: Env, area: str, *before: Effect) -> Decision: ...


def _band(label: str, action: PlanTap | PlanGo | PlanSnooze | PlanSkip) -> Button:
    """An out-of-band button: valid whatever the conversation is doing."""
    return Button(label=label, data=encode_press(followups.OUT_OF_BAND, action))


def _btn(state: State, label: str, action: Action) -> Button:
    return Button(label=label, data=encode_press(state.prompt, action))


def _reply(text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return Reply(Message(text=text, buttons=buttons))


def _now(env: Env) -> datetime:
    return datetime.fromtimestamp(env.now).astimezone(zone("UTC"))


def _delay(due: datetime, env: Env) -> float:
    """Seconds until ``due``, multiplied by KNOTBOT_TIME_SCALE."""
    return max(0.0, (due - _now(env)).total_seconds()) * env.time_scale


def _in_rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


# -- wording -------------------------------------------------------------------------


def area_names(areas: Iterable[str], content: Content) -> str:
    return ", ".join(content.area(a).name for a in areas)


def days_wording(weekdays: tuple[int, ...], content: Content) -> str:
    t = content.text
    if tuple(sorted(weekdays)) == EVERY_DAY:
        return t("plan.days_every")
    if tuple(sorted(weekdays)) == WEEKDAYS:
        return t("plan.days_weekdays")
    return ", ".join(t(f"plan.day_{d}") for d in sorted(weekdays))


def when_wording(day: date, at: datetime, profile: Profile, content: Content) -> str:
    """``Thu 4 Dec at 19:30`` in the person's time zone."""
    local = at.astimezone(zone(profile.tz or "UTC"))
    return content.text(
        "plan.when",
        day=content.text(f"plan.day_{day.weekday()}"),
        date=local.day,
        month=local.strftime("%b"),
        clock=local.strftime("%H:%M"),
    )


def summary(plan: Plan, env: Env, *, intro: str | None = None) -> Reply:
    """What the plan is, what comes next, and Change / Pause (or Resume) / Stop."""
    c = env.content
    t = c.text
    if plan.paused:
        status = t("plan.status_paused")
        toggle = _band(t("button.plan_resume"), PlanTap.RESUME)
    else:
        day, at = next_due(plan, _now(env), env.profile)
        status = t("plan.status_next", when=when_wording(day, at, env.profile, c))
        toggle = _band(t("button.plan_pause"), PlanTap.PAUSE)
    text = t(
        "plan.summary",
        areas=area_names(plan.areas, c),
        days=days_wording(plan.weekdays, c),
        clock=plan.clock,
        zone=env.profile.tz or "UTC",
        status=status,
    )
    if intro is not None:
        text = f"{intro}\n\n{text}"
    rows = (
        (_band(t("button.plan_change"), PlanTap.CHANGE),),
        (toggle,),
        (_band(t("button.plan_stop"), PlanTap.STOP),),
    )
    return _reply(text, rows)


def reminder_message(plan: Plan, day: date, content: Content) -> Message:
    """ "Time for your 5-minute upper back session": Start, Snooze, Skip today, stop the reminders."""
    t = content.text
    names = " and ".join(content.area(a).name.lower() for a in plan.areas)
    if len(plan.areas) == 1:
        starts = [_band(t("button.plan_start"), PlanGo(plan.areas[0]))]
    else:
        starts = [
            _band(t("button.plan_start_area", area=content.area(a).name), PlanGo(a)) for a in plan.areas
        ]
    snoozes = [
        _band(
            t("button.plan_snooze", minutes=m) if m < 60 else t("button.plan_snooze_hours", hours=m // 60),
            PlanSnooze(m, day),
        )
        for m in content.plan.snooze_minutes
    ]
    rows = (
        *((b,) for b in starts),
        tuple(snoozes),
        (_band(t("button.plan_skip"), PlanSkip(day)),),
        (_band(t("button.plan_off"), PlanTap.OFF),),
    )
    return Message(t("plan.reminder", minutes=content.plan.session_minutes, areas=names), rows)


def pause_offer_message(plan: Plan, content: Content) -> Message:
    """The one gentle message after several ignored reminders: pause, or keep going."""
    t = content.text
    rows = ((_band(t("button.plan_pause"), PlanTap.PAUSE),), (_band(t("button.plan_keep"), PlanTap.KEEP),))
    return Message(t("plan.pause_offer", n=plan.ignored), rows)


def reminder_schedule(plan: Plan, env: Env) -> Schedule:
    """The next reminder of ``plan`` from now (the dispatcher schedules each one after that)."""
    day, at = next_due(plan, _now(env), env.profile)
    return Schedule(
        key=reminder_key(plan, day),
        delay=_delay(at, env),
        message=reminder_message(plan, day, env.content),
        kind=Kind.PLAN_REMINDER,
    )


def following(
    plan: Plan, day: date, first_due: datetime, now: datetime, profile: Profile, time_scale: float
) -> tuple[date, datetime]:
    """The planned day after ``day`` and when its reminder is due on the dispatcher's clock.

    ``first_due`` is when this day's reminder was due on that clock; the gap between
    the two planned times is scaled by KNOTBOT_TIME_SCALE (at scale 1 the result is
    exactly the next planned time). Planned days whose time has passed already (the
    bot was down for days) are skipped.
    """
    this_at = planned_at(plan, day, profile)
    after = this_at
    for _ in range(400):
        nxt_day, nxt_at = next_due(plan, after, profile)
        due = first_due + (nxt_at - this_at) * time_scale
        if due > now:
            return nxt_day, due
        after = nxt_at
    raise AssertionError("no planned day within a year")  # pragma: no cover - weekdays is never empty


def wants_history(event: Event) -> bool:
    """Does this event need the person's recent areas (the first plan question lists them first)?"""
    if isinstance(event, Command):
        return event.name == COMMAND
    return isinstance(event, Press) and event.action in (PlanTap.NEW, PlanTap.CHANGE)


# -- setting a plan up ------------------------------------------------------------------


def question(state: State, env: Env) -> Message:
    """The question of a plan step (used to ask and to re-ask)."""
    c = env.content
    t = c.text
    if state.step is Step.PLAN_AREAS:
        recent = [a for a in env.recent_areas if a in {x.id for x in c.areas}]
        order = list(dict.fromkeys([*recent, *(a.id for a in c.areas)]))  # stable while ticking
        buttons = [
            _btn(
                state,
                t("plan.picked", label=c.area(a).name) if a in state.picked else c.area(a).name,
                PlanArea(a),
            )
            for a in order
        ]
        done = (_btn(state, t("button.plan_done"), Tap.PLAN_AREAS_DONE),)
        return Message(t("plan.areas_question"), (*_in_rows(buttons, 2), done))
    if state.step is Step.PLAN_DAYS:
        return Message(
            t("plan.days_question"),
            (
                (_btn(state, t("plan.days_every"), Tap.EVERY_DAY),),
                (_btn(state, t("plan.days_weekdays"), Tap.WEEKDAYS),),
                (_btn(state, t("button.plan_choose_days"), Tap.CHOOSE_DAYS),),
            ),
        )
    if state.step is Step.PLAN_WEEKDAYS:
        days = [
            _btn(
                state,
                t("plan.picked", label=t(f"plan.day_{d}")) if d in state.weekdays else t(f"plan.day_{d}"),
                PlanWeekday(d),
            )
            for d in EVERY_DAY
        ]
        done = (_btn(state, t("button.plan_done"), Tap.PLAN_DAYS_DONE),)
        return Message(t("plan.weekdays_question"), (*_in_rows(days, 4), done))
    # Step.PLAN_TIME: the offered times outside the person's quiet hours
    times = [
        _btn(state, clock, PlanTime(int(clock[:2]), int(clock[3:])))
        for clock in c.plan.time_choices
        if not in_quiet(int(clock[:2]), int(clock[3:]), env.profile)
    ]
    return Message(t("plan.time_question"), _in_rows(times, 3))


def begin(state: State, env: Env, picked: tuple[str, ...] = ()) -> Decision:
    """The first question of setting up (or changing) a plan."""
    fresh = State(prompt=state.prompt, session=state.session, picked=picked)
    asking = fresh.advance(Step.PLAN_AREAS)
    return Decision(asking, (Reply(question(asking, env)),))


def on_command(state: State, env: Env, ask: Ask) -> Decision:
    """/plan: the summary if there is a plan, else the first question."""
    if state.step not in PLAN_STEPS and state.step is not Step.IDLE:
        return ask(state, env, _reply(env.content.text("plan.finish_session_first")))
    if env.plan is not None:
        idle = State(prompt=state.prompt + 1, session=state.session)
        return Decision(idle, (summary(env.plan, env),))
    return begin(state, env, ())


def _toggled(items: tuple[str, ...] | tuple[int, ...], item: str | int) -> tuple[object, ...]:
    return tuple(x for x in items if x != item) if item in items else (*items, item)


def on_step_press(state: State, action: Action, env: Env) -> Decision | None:
    """Buttons of the plan questions (bound to the question: an older one is stale)."""
    t = env.content.text
    if state.step is Step.PLAN_AREAS:
        if action is Tap.PLAN_AREAS_DONE:
            if not state.picked:
                return Decision(state, (_reply(t("plan.pick_an_area")), Reply(question(state, env))))
            return _ask(state.advance(Step.PLAN_DAYS), env)
        if not isinstance(action, PlanArea) or action.area not in {a.id for a in env.content.areas}:
            return None
        picked = tuple(str(a) for a in _toggled(state.picked, action.area))
        return _ask(state.advance(Step.PLAN_AREAS, picked=picked), env)
    if state.step is Step.PLAN_DAYS:
        chosen = {Tap.EVERY_DAY: EVERY_DAY, Tap.WEEKDAYS: WEEKDAYS, Tap.CHOOSE_DAYS: ()}
        if not isinstance(action, Tap) or action not in chosen:
            return None
        step = Step.PLAN_WEEKDAYS if action is Tap.CHOOSE_DAYS else Step.PLAN_TIME
        return _ask(state.advance(step, weekdays=chosen[action]), env)
    if state.step is Step.PLAN_WEEKDAYS:
        if action is Tap.PLAN_DAYS_DONE:
            if not state.weekdays:
                return Decision(state, (_reply(t("plan.pick_a_day")), Reply(question(state, env))))
            return _ask(state.advance(Step.PLAN_TIME, weekdays=tuple(sorted(state.weekdays))), env)
        if not isinstance(action, PlanWeekday) or action.day not in EVERY_DAY:
            return None
        days = tuple(int(str(d)) for d in _toggled(state.weekdays, action.day))
        return _ask(state.advance(Step.PLAN_WEEKDAYS, weekdays=days), env)
    if not isinstance(action, PlanTime) or action.clock not in env.content.plan.time_choices:
        return None
    return time_chosen(state, action.hour, action.minute, env)


def _ask(state: State, env: Env, *before: Effect) -> Decision:
    return Decision(state, (*before, Reply(question(state, env))))


def on_time_text(state: State, text: str, env: Env) -> Decision:
    """A typed time at PLAN_TIME: "19:30", "7.30", "7pm"."""
    found = parse_time(text)
    if found is None:
        return _ask(state, env, _reply(env.content.text("plan.time_not_understood")))
    return time_chosen(state, found[0], found[1], env)


def time_chosen(state: State, hour: int, minute: int, env: Env) -> Decision:
    """A time outside quiet hours is taken; the time zone is asked if it is not known yet."""
    profile = env.profile
    if in_quiet(hour, minute, profile):
        text = env.content.text(
            "plan.time_in_quiet_hours",
            start=f"{profile.quiet_start:02d}:00",
            end=f"{profile.quiet_end:02d}:00",
        )
        return _ask(state, env, _reply(text))
    drafted = replace(state, plan_minute=hour * 60 + minute)
    if profile.tz is None:
        return followups.ask_tz(drafted, env)
    return finish(drafted, env)


def has_draft(state: State) -> bool:
    """A plan set up as far as its time: waiting only for the time zone."""
    return state.plan_minute is not None and bool(state.picked) and bool(state.weekdays)


def finish(state: State, env: Env, *before: Effect) -> Decision:
    """Save the plan from the draft in ``state`` and schedule its first reminder."""
    minute = state.plan_minute if state.plan_minute is not None else 0
    rev = env.plan.rev + 1 if env.plan is not None else 1
    plan = Plan(
        areas=state.picked,
        weekdays=tuple(sorted(state.weekdays)),
        hour=minute // 60,
        minute=minute % 60,
        rev=rev,
    )
    idle = State(prompt=state.prompt + 1, session=state.session)
    saved = replace(env, plan=plan)
    intro = env.content.text("plan.saved")
    return Decision(
        idle,
        (
            *before,
            SavePlan(plan),
            Cancel(KEY_PREFIX),
            reminder_schedule(plan, saved),
            summary(plan, saved, intro=intro),
        ),
    )


def is_consistent(state: State, content: Content) -> bool:
    """Do the plan fields of ``state`` fit its step and this content?"""
    areas = {a.id for a in content.areas}
    if not set(state.picked) <= areas or (state.planned is not None and state.planned not in areas):
        return False
    if state.step is Step.PLAN_TIME and not state.weekdays:
        return False
    return not (state.step in (Step.PLAN_DAYS, Step.PLAN_WEEKDAYS, Step.PLAN_TIME) and not state.picked)


# -- after a session ---------------------------------------------------------------------


def offer(state: State, decision: Decision, env: Env) -> Decision:
    """After a session that went well, offer a plan once (never again, whatever the answer)."""
    if env.plan is not None or env.profile.plan_offered or state.knot not in WENT_WELL:
        return decision
    if decision.state.step is not Step.IDLE:
        return decision  # the time zone is being asked: not now
    latest = next((e.profile for e in reversed(decision.effects) if isinstance(e, SetProfile)), env.profile)
    t = env.content.text
    shown = _reply(t("plan.offer"), ((_band(t("button.plan_set_up"), PlanTap.NEW),),))
    return Decision(
        decision.state, (*decision.effects, SetProfile(replace(latest, plan_offered=True)), shown)
    )


# -- the summary's and the reminders' buttons ---------------------------------------------


def on_press(state: State, action: Action, env: Env, ask: Ask, start: Start) -> Decision:
    """Plan-band buttons: valid whatever the conversation is doing."""
    t = env.content.text
    plan = env.plan
    if action is PlanTap.NEW or action is PlanTap.CHANGE:
        if state.step not in PLAN_STEPS and state.step is not Step.IDLE:
            return ask(state, env, _reply(t("plan.finish_session_first")))
        return begin(state, env, plan.areas if plan is not None else ())
    if plan is None:
        return Decision(state, (Toast(t("plan.toast_no_plan")),))
    if action is PlanTap.STOP:
        return Decision(state, (DropPlan(), Cancel(KEY_PREFIX), _reply(t("plan.stopped"))))
    if action is PlanTap.PAUSE or action is PlanTap.OFF:
        if plan.paused:
            return Decision(state, (Toast(t("toast.already")),))
        paused = replace(plan.revised(), paused=True)
        text = t("plan.paused") if action is PlanTap.PAUSE else t("plan.reminders_off")
        return Decision(state, (SavePlan(paused), Cancel(KEY_PREFIX), _reply(text)))
    if action is PlanTap.RESUME:
        if not plan.paused:
            return Decision(state, (Toast(t("toast.already")),))
        resumed = replace(plan.revised(), paused=False)
        on = replace(env, plan=resumed)
        return Decision(
            state,
            (
                SavePlan(resumed),
                reminder_schedule(resumed, on),
                summary(resumed, on, intro=t("plan.resumed")),
            ),
        )
    if plan.paused:
        return Decision(state, (Toast(t("plan.toast_paused")),))
    answered = SavePlan(plan.answered())
    match action:
        case PlanTap.KEEP:
            return Decision(state, (answered, _reply(t("plan.kept"))))
        case PlanGo(area) if area in plan.areas:
            return start(state, env, area, answered)
        case PlanSnooze():
            return _snooze(state, action, plan, env, answered)
        case PlanSkip(day):
            nxt_day, nxt_at = next_due(plan, max(_now(env), planned_at(plan, day, env.profile)), env.profile)
            when = when_wording(nxt_day, nxt_at, env.profile, env.content)
            return Decision(
                state,
                (
                    answered,
                    Cancel(f"{SNOOZE_KEY_PREFIX}{day_key(day)}"),
                    _reply(t("plan.skipped", when=when)),
                ),
            )
    return Decision(state, (Toast(t("toast.stale")),))


def _snooze(state: State, snooze: PlanSnooze, plan: Plan, env: Env, answered: Effect) -> Decision:
    t = env.content.text
    if snooze.minutes not in env.content.plan.snooze_minutes:
        return Decision(state, (Toast(t("toast.stale")),))
    minutes, day = snooze.minutes, snooze.day
    now = _now(env)
    at = next_allowed(now + timedelta(minutes=minutes), env.profile)
    delay = (at - now).total_seconds() * env.time_scale
    key = f"{SNOOZE_KEY_PREFIX}{day_key(day)}:{int(env.now)}"
    again = Schedule(
        key=key, delay=delay, message=reminder_message(plan, day, env.content), kind=Kind.PLAN_SNOOZED
    )
    clock = at.astimezone(zone(env.profile.tz or "UTC")).strftime("%H:%M")
    # one snooze pending at a time: a second snooze replaces the first
    return Decision(
        state,
        (
            answered,
            Cancel(f"{SNOOZE_KEY_PREFIX}{day_key(day)}"),
            again,
            _reply(t("plan.snoozed", clock=clock)),
        ),
    )
