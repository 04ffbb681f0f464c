"""Follow-ups after a session: opting in, the time zone, what gets scheduled, the next-day check.

Pure, like the rest of the core. What is sent later is decided here and
scheduled as rows (keys ``fu:hyd:<session>`` and ``fu:chk:<session>:<area>:<n>``);
the dispatcher only sends them, moving a follow-up that would land in the
person's quiet hours to the next decent hour. Follow-up buttons work outside the
question flow ("out of band"): their actions start with ``fu.`` and are accepted
whatever the conversation is doing, because they answer a message that may
arrive in the middle of something else.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.decision import Decision, Env
from bot.domain.effects import (
    Button,
    Cancel,
    Effect,
    Message,
    RecordCheckin,
    Reply,
    Schedule,
    SetProfile,
)
from bot.domain.events import encode_press
from bot.domain.profile import Profile
from bot.domain.state import State, Step
from bot.domain.timing import days_later_at, in_quiet_hours, local_clock, zone

FOLLOWUP_KEY_PREFIX = "fu:"
ACTION_PREFIX = "fu."
ANSWERS = ("better", "same", "worse", "nerve")
OUT_OF_BAND = 0  # the prompt number of follow-up buttons: they are not tied to a question


def _btn(label: str, action: str) -> Button:
    return Button(label=label, data=encode_press(OUT_OF_BAND, ACTION_PREFIX + action))


def _reply(
    text: str, buttons: tuple[tuple[Button, ...], ...] = (), *, remove_keyboard: bool = False
) -> Reply:
    return Reply(Message(text=text, buttons=buttons, remove_keyboard=remove_keyboard))


def stop_button(env: Env) -> tuple[Button, ...]:
    return (_btn(env.content.text("button.stop_reminders"), "off"),)


def _now(env: Env) -> datetime:
    return datetime.fromtimestamp(env.now).astimezone(zone("UTC"))


def _delay(due: datetime, env: Env) -> float:
    """Seconds until ``due``, multiplied by KNOTBOT_TIME_SCALE."""
    return max(0.0, (due - _now(env)).total_seconds()) * env.time_scale


def _zone_label(profile: Profile) -> str:
    return profile.tz or "UTC"


# -- the time-zone question ------------------------------------------------------------


def tz_question(state: State, env: Env) -> Message:
    """Asked once, when the person first opts in (and from /reminders).

    On Telegram the button becomes a "share location" keyboard button (it sends a
    location, not a button press); the terminal leaves it out and the person types.
    """
    t = env.content.text
    share = Button(t("button.share_location"), encode_press(state.prompt, "location"))
    return Message(t("tz.question"), ((share,),), ask_location=True)


def tz_candidates_question(state: State, env: Env) -> Message:
    t = env.content.text
    rows = tuple(
        (Button(label=label, data=encode_press(state.prompt, f"tz:{i}")),)
        for i, label in enumerate(state.zones)
    )
    other = (Button(t("button.none_of_those"), encode_press(state.prompt, "tz:other")),)
    return Message(t("tz.did_you_mean"), (*rows, other))


def ask_tz(state: State, env: Env, *before: Effect) -> Decision:
    asking = state.advance(Step.TZ_ASK, zones=())
    t = env.content.text
    intro = _reply(t("tz.why"), ((_btn(t("button.no_reminders"), "off"),),))
    return Decision(asking, (*before, intro, Reply(tz_question(asking, env))))


def opt_in(state: State, env: Env) -> Decision:
    """The person said yes to follow-ups at the end of a session."""
    profile = replace(env.profile, followups=True)
    if profile.tz is None:
        return ask_tz(state, env, SetProfile(profile))
    effects = schedule_followups(state.session, state.areas_done, replace(env, profile=profile))
    idle = State(prompt=state.prompt + 1, session=state.session)
    return Decision(idle, (SetProfile(profile), *effects))


def zone_chosen(state: State, zone_name: str, env: Env) -> Decision:
    """A time zone was found (location, city or offset): store it, then schedule what is owed."""
    t = env.content.text
    profile = replace(env.profile, tz=zone_name)
    confirm = _reply(
        t("tz.confirmed", zone=zone_name, clock=local_clock(_now(env), profile)), remove_keyboard=True
    )
    idle = State(prompt=state.prompt + 1, session=state.session)
    effects: list[Effect] = [SetProfile(profile), confirm]
    if profile.followups and state.areas_done:
        effects += schedule_followups(state.session, state.areas_done, replace(env, profile=profile))
    return Decision(idle, tuple(effects))


def on_tz_text(state: State, text: str, env: Env) -> Decision | None:
    """Free text while the time zone is asked: a city, a zone name or an offset."""
    if env.zones is None:
        return None
    found = env.zones.match(text)
    if found.zone is not None:
        return zone_chosen(state, found.zone, env)
    t = env.content.text
    if found.candidates:
        asking = state.advance(Step.TZ_CONFIRM, zones=tuple(c.label for c in found.candidates))
        return Decision(asking, (Reply(tz_candidates_question(asking, env)),))
    return Decision(state, (_reply(t("tz.no_match")), Reply(tz_question(state, env))))


def on_location(state: State, latitude: float, longitude: float, env: Env) -> Decision:
    t = env.content.text
    if state.step is not Step.TZ_ASK:
        return Decision(state, (_reply(t("hint.location_unexpected")),))
    found = env.locate_tz(latitude, longitude) if env.locate_tz is not None else None
    if found is None:
        return Decision(state, (_reply(t("tz.location_failed")), Reply(tz_question(state, env))))
    return zone_chosen(state, found, env)


def on_tz_press(state: State, action: str, env: Env) -> Decision | None:
    """Buttons of the time-zone questions (bound to the question, not out of band)."""
    if action == "location":  # only pressable where location can't be shared (no keyboard button)
        return Decision(state, (_reply(env.content.text("tz.type_city")), Reply(tz_question(state, env))))
    if not action.startswith("tz:"):
        return None
    choice = action.removeprefix("tz:")
    if choice == "other":
        asking = state.advance(Step.TZ_ASK, zones=())
        return Decision(asking, (Reply(tz_question(asking, env)),))
    if not choice.isdigit() or int(choice) >= len(state.zones):
        return None
    return zone_chosen(state, zone_of(state.zones[int(choice)]), env)


def zone_of(label: str) -> str:
    """``"Atlanta (America/New_York)"`` → ``"America/New_York"``; a bare zone name stays as it is."""
    return label[label.rindex("(") + 1 : -1] if label.endswith(")") and "(" in label else label


# -- scheduling ------------------------------------------------------------------------


def schedule_followups(session: int, areas: tuple[str, ...], env: Env) -> tuple[Effect, ...]:
    """Hydration later today and a check per area tomorrow, and a reply saying when."""
    c = env.content
    t = c.text
    rules = c.followups
    profile = env.profile
    now = _now(env)
    effects: list[Effect] = []
    lines: list[str] = []
    hydration = now + timedelta(minutes=rules.hydration_after_minutes)
    if not in_quiet_hours(hydration, profile):
        effects.append(
            Schedule(
                key=f"{FOLLOWUP_KEY_PREFIX}hyd:{session}",
                delay=_delay(hydration, env),
                message=Message(t("followup.hydration"), (stop_button(env),)),
                kind="hydration",
                late_after=rules.hydration_useful_for_minutes * 60 * env.time_scale,
            )
        )
        lines.append(t("followup.when_hydration", clock=local_clock(hydration, profile)))
    check = days_later_at(now, 1, profile)
    for area_id in areas:
        effects.append(check_schedule(session, area_id, 0, check, env))
    if areas:
        names = ", ".join(c.area(a).name.lower() for a in areas)
        lines.append(t("followup.when_check", areas=names, clock=local_clock(check, profile)))
    summary = t(
        "followup.scheduled", when="\n".join(f"• {line}" for line in lines), zone=_zone_label(profile)
    )
    return (*effects, _reply(summary))


def check_schedule(session: int, area_id: str, n: int, due: datetime, env: Env) -> Schedule:
    return Schedule(
        key=f"{FOLLOWUP_KEY_PREFIX}chk:{session}:{area_id}:{n}",
        delay=_delay(due, env),
        message=check_message(session, area_id, n, env),
        kind="checkin",
    )


def check_message(session: int, area_id: str, n: int, env: Env) -> Message:
    t = env.content.text
    area = env.content.area(area_id)
    rows = tuple((_btn(t(f"button.check_{a}"), f"chk:{session}:{area_id}:{n}:{a}"),) for a in ANSWERS)
    return Message(t("check.question", area=area.name.lower()), (*rows, stop_button(env)))


# -- out-of-band buttons -----------------------------------------------------------------


def on_press(state: State, action: str, env: Env) -> Decision | None:
    """Follow-up buttons (``fu.*``): valid whatever step the conversation is at."""
    t = env.content.text
    command = action.removeprefix(ACTION_PREFIX)
    if command == "off":
        profile = replace(env.profile, followups=False)
        back = _back_to(state)
        return Decision(back, (SetProfile(profile), Cancel(FOLLOWUP_KEY_PREFIX), _reply(t("reminders.off"))))
    if command == "on":
        profile = replace(env.profile, followups=True)
        if profile.tz is None:
            return ask_tz(state, env, SetProfile(profile)) if state.step is Step.IDLE else None
        return Decision(state, (SetProfile(profile), _reply(t("reminders.on"))))
    if command == "tz":
        if state.step not in (Step.IDLE, Step.TZ_ASK, Step.TZ_CONFIRM):
            return Decision(state, (_reply(t("reminders.finish_session_first")),))
        return ask_tz(State(prompt=state.prompt, session=state.session), env)
    if command == "hours":
        return Decision(state, (hours_question(env),))
    if command.startswith("hour:"):
        raw = command.removeprefix("hour:")
        if not raw.isdigit() or int(raw) not in env.content.followups.hour_choices:
            return None
        profile = replace(env.profile, hour=int(raw))
        return Decision(
            state, (SetProfile(profile), _reply(t("reminders.hour_set", hour=f"{int(raw):02d}:00")))
        )
    if command == "quiet":
        rules = env.content.followups
        quiet_on = env.profile.quiet_start != env.profile.quiet_end
        start, end = (0, 0) if quiet_on else (rules.quiet_start, rules.quiet_end)
        profile = replace(env.profile, quiet_start=start, quiet_end=end)
        text = (
            t("reminders.quiet_off")
            if quiet_on
            else t("reminders.quiet_on", start=f"{start:02d}:00", end=f"{end:02d}:00")
        )
        return Decision(state, (SetProfile(profile), _reply(text)))
    if command.startswith("chk:"):
        return on_check_answer(state, command.removeprefix("chk:"), env)
    return None


def _back_to(state: State) -> State:
    """Turning reminders off while the time zone is asked ends that question."""
    if state.step in (Step.TZ_ASK, Step.TZ_CONFIRM):
        return State(prompt=state.prompt + 1, session=state.session)
    return state


def on_check_answer(state: State, data: str, env: Env) -> Decision | None:
    parts = data.split(":")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit() or parts[3] not in ANSWERS:
        return None
    session, area_id, n, answer = int(parts[0]), parts[1], int(parts[2]), parts[3]
    if area_id not in {a.id for a in env.content.areas}:
        return None
    c = env.content
    t = c.text
    area = c.area(area_id).name.lower()
    effects: list[Effect] = [RecordCheckin(session=session, area=area_id, n=n, answer=answer)]
    if answer == "better":
        effects.append(_reply(t("check.better", area=area)))
    elif answer == "same":
        same_count = n + 1
        if same_count >= c.followups.same_answers_before_referral:
            effects.append(_reply(t("check.same_refer", area=area)))
        else:
            massage = (_btn(t("button.start_session"), "massage"),)
            effects.append(_reply(t("check.same", area=area), (massage,)))
            if env.profile.followups:
                due = days_later_at(_now(env), c.followups.repeat_after_days, env.profile)
                effects.append(check_schedule(session, area_id, n + 1, due, env))
    elif answer == "worse":
        effects.append(_reply(t("check.worse", area=area)))
    else:
        effects.append(_reply(t("check.nerve", area=area)))
    return Decision(state, tuple(effects))


def hours_question(env: Env) -> Reply:
    t = env.content.text
    hours = [_btn(f"{h:02d}:00", f"hour:{h}") for h in env.content.followups.hour_choices]
    rows = tuple(tuple(hours[i : i + 3]) for i in range(0, len(hours), 3))
    return _reply(t("reminders.pick_hour"), rows)


def reminders_menu(env: Env) -> Reply:
    """``/reminders``: what is set, and buttons to change it."""
    t = env.content.text
    profile = env.profile
    quiet_on = profile.quiet_start != profile.quiet_end
    status = t(
        "reminders.status",
        state=t("reminders.state_on") if profile.followups else t("reminders.state_off"),
        zone=profile.tz or t("reminders.zone_unknown"),
        hour=f"{profile.hour:02d}:00",
        quiet=(
            t(
                "reminders.quiet_window",
                start=f"{profile.quiet_start:02d}:00",
                end=f"{profile.quiet_end:02d}:00",
            )
            if quiet_on
            else t("reminders.quiet_none")
        ),
    )
    toggle = (
        _btn(t("button.reminders_off"), "off") if profile.followups else _btn(t("button.reminders_on"), "on")
    )
    rows = (
        (toggle,),
        (_btn(t("button.change_hour"), "hours"),),
        (_btn(t("button.change_zone"), "tz"),),
        (_btn(t("button.quiet_toggle"), "quiet"),),
    )
    return _reply(status, rows)
