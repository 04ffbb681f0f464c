"""Follow-ups after a session: opting in, the time zone, what gets scheduled, the next-day check.

Pure, like the rest of the core. What is sent later is decided here and
scheduled as rows (keys ``fu:hyd:<session>`` and ``fu:chk:<session>:<area>:<n>``);
a hydration reminder that would fall into quiet hours moves to their end, or goes
with the next-day check if it would come no earlier. What happens to a follow-up
that comes due late (the bot was down) is decided here too, by
:func:`late_followup`; the dispatcher only carries that out. Follow-up buttons
work outside the question flow ("out of band"): their actions are of the follow-up
band (:class:`bot.domain.actions.FollowupTap`, :class:`~bot.domain.actions.ReminderHour`,
:class:`~bot.domain.actions.CheckAnswer`; ``fu.`` on the wire) and are accepted whatever the
conversation is doing, because they answer a
message that may arrive in the middle of something else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.actions import (
    CHECK_ANSWERS,
    Action,
    CheckAnswer,
    FollowupTap,
    ReminderHour,
    Tap,
    TzChoice,
)
from bot.domain.content import Content
from bot.domain.decision import CheckStatus, Decision, Env
from bot.domain.effects import (
    Button,
    Cancel,
    Effect,
    Kind,
    Message,
    RecordCheckin,
    Reply,
    Schedule,
    SetProfile,
    Toast,
)
from bot.domain.events import encode_press
from bot.domain.profile import Profile
from bot.domain.state import State, Step
from bot.domain.timing import days_later_at, local_clock, next_allowed, zone

FOLLOWUP_KEY_PREFIX = "fu:"
HYDRATION_KEY_PREFIX = "fu:hyd:"
ANSWERS = CHECK_ANSWERS
OUT_OF_BAND = 0  # the prompt number of follow-up buttons: they are not tied to a question
TZ_STEPS = frozenset({Step.TZ_ASK, Step.TZ_CONFIRM})  # where a city, an offset or a location answers


def _btn(label: str, action: FollowupTap | ReminderHour | CheckAnswer) -> Button:
    return Button(label=label, data=encode_press(OUT_OF_BAND, action))


def _reply(
    text: str, buttons: tuple[tuple[Button, ...], ...] = (), *, remove_keyboard: bool = False
) -> Reply:
    return Reply(Message(text=text, buttons=buttons, remove_keyboard=remove_keyboard))


def stop_button(env: Env) -> tuple[Button, ...]:
    return (_btn(env.content.text("button.stop_reminders"), FollowupTap.OFF),)


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
    share = Button(t("button.share_location"), encode_press(state.prompt, Tap.LOCATION))
    return Message(t("tz.question"), ((share,),), ask_location=True)


def tz_candidates_question(state: State, env: Env) -> Message:
    t = env.content.text
    rows = tuple(
        (Button(label=label, data=encode_press(state.prompt, TzChoice(i))),)
        for i, label in enumerate(state.zones)
    )
    other = (Button(t("button.none_of_those"), encode_press(state.prompt, Tap.TZ_OTHER)),)
    return Message(t("tz.did_you_mean"), (*rows, other))


def current_tz_question(state: State, env: Env) -> Message:
    """The time-zone question being asked: the candidates of a close call, or where you are."""
    return tz_candidates_question(state, env) if state.step is Step.TZ_CONFIRM else tz_question(state, env)


def ask_tz(state: State, env: Env, *before: Effect) -> Decision:
    asking = state.advance(Step.TZ_ASK, zones=())
    t = env.content.text
    intro = _reply(t("tz.why"), ((_btn(t("button.no_reminders"), FollowupTap.OFF),),))
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
    from bot.domain import plan_chat  # imported here: plan_chat asks this module's time-zone question

    if plan_chat.has_draft(state):  # a plan was waiting for the time zone
        return plan_chat.finish(state, replace(env, profile=profile), SetProfile(profile), confirm)
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
    return Decision(state, (_reply(t("tz.no_match")), Reply(current_tz_question(state, env))))


def on_location(state: State, latitude: float, longitude: float, env: Env) -> Decision:
    t = env.content.text
    if state.step not in TZ_STEPS:
        return Decision(state, (_reply(t("hint.location_unexpected")),))
    found = env.locate_tz(latitude, longitude) if env.locate_tz is not None else None
    if found is None:
        return Decision(state, (_reply(t("tz.location_failed")), Reply(current_tz_question(state, env))))
    return zone_chosen(state, found, env)


def on_tz_press(state: State, action: Action, env: Env) -> Decision | None:
    """Buttons of the time-zone questions (bound to the question, not out of band)."""
    match action:
        case Tap.LOCATION:  # only pressable where location can't be shared (no keyboard button)
            type_city = _reply(env.content.text("tz.type_city"))
            return Decision(state, (type_city, Reply(current_tz_question(state, env))))
        case Tap.TZ_OTHER:
            asking = state.advance(Step.TZ_ASK, zones=())
            return Decision(asking, (Reply(tz_question(asking, env)),))
        case TzChoice(index) if index < len(state.zones):
            return zone_chosen(state, zone_of(state.zones[index]), env)
    return None


def zone_of(label: str) -> str:
    """``"Atlanta (America/New_York)"`` → ``"America/New_York"``; a bare zone name stays as it is."""
    return label[label.rindex("(") + 1 : -1] if label.endswith(")") and "(" in label else label


# -- scheduling ------------------------------------------------------------------------


def schedule_followups(session: int, areas: tuple[str, ...], env: Env) -> tuple[Effect, ...]:
    """Hydration later today and a check per area tomorrow, and a reply saying when.

    A hydration reminder that would fall into quiet hours moves to their end (with
    the morning-after wording if that is much later than planned). If that is no
    earlier than the next-day check, it is folded into the check: no separate
    reminder, and the first check message starts with a line about water, so two
    messages never arrive at once.
    """
    c = env.content
    t = c.text
    rules = c.followups
    profile = env.profile
    now = _now(env)
    effects: list[Effect] = []
    lines: list[str] = []
    check = days_later_at(now, 1, profile)
    planned = now + timedelta(minutes=rules.hydration_after_minutes)
    hydration = next_allowed(planned, profile)
    folded = bool(areas) and hydration >= check
    if not folded:
        text = hydration_wording(planned, hydration, c) or t("followup.hydration")
        effects.append(
            Schedule(
                key=f"{HYDRATION_KEY_PREFIX}{session}",
                delay=_delay(hydration, env),
                message=Message(text, (stop_button(env),)),
                kind=Kind.HYDRATION,
            )
        )
        clock = local_clock(hydration, profile)
        lines.append(
            t("followup.when_hydration", clock=clock)
            if hydration == planned
            else t("followup.when_hydration_after_quiet", clock=clock)
        )
    for i, area_id in enumerate(areas):
        effects.append(check_schedule(session, area_id, 0, check, env, water=folded and i == 0))
    if areas:
        names = ", ".join(c.area(a).name.lower() for a in areas)
        lines.append(t("followup.when_check", areas=names, clock=local_clock(check, profile)))
        if folded:
            lines.append(t("followup.when_hydration_with_check"))
    summary = t(
        "followup.scheduled", when="\n".join(f"• {line}" for line in lines), zone=_zone_label(profile)
    )
    return (*effects, _reply(summary))


def check_schedule(
    session: int, area_id: str, n: int, due: datetime, env: Env, *, water: bool = False
) -> Schedule:
    message = check_message(session, area_id, n, env)
    if water:
        message = replace(message, text=with_water(message.text, env.content))
    return Schedule(
        key=CheckRef(session, area_id, n).key,
        delay=_delay(due, env),
        message=message,
        kind=Kind.CHECKIN,
    )


def check_message(session: int, area_id: str, n: int, env: Env) -> Message:
    t = env.content.text
    area = env.content.area(area_id)
    rows = tuple((_btn(t(f"button.check_{a}"), CheckAnswer(session, area_id, n, a)),) for a in ANSWERS)
    return Message(t("check.question", area=area.name.lower()), (*rows, stop_button(env)))


# -- wording of moved and late follow-ups ---------------------------------------------------


def hydration_wording(planned: datetime, at: datetime, content: Content) -> str | None:
    """The morning-after wording for a hydration reminder sent at ``at`` instead of ``planned``.

    None (keep the planned wording) unless it was moved further than the reminder
    stays useful. Both are clock times and quiet hours are real time, so this
    compares real minutes, whatever KNOTBOT_TIME_SCALE is.
    """
    if (at - planned).total_seconds() <= content.followups.hydration_useful_for_minutes * 60:
        return None
    return content.text("followup.hydration_morning")


def _wrapped(text: str, template: str) -> bool:
    before, _, after = template.partition("\0")
    return text.startswith(before) and text.endswith(after)


def late_wording(text: str, content: Content) -> str:
    """``text`` with a "sorry, this comes late" line; unchanged if it has one already."""
    if _wrapped(text, content.text("followup.late", message="\0")):
        return text
    return content.text("followup.late", message=text)


def with_water(text: str, content: Content) -> str:
    """A check question with a line about drinking water first (a folded hydration reminder)."""
    if _wrapped(text, content.text("followup.with_water", message="\0")):
        return text
    return content.text("followup.with_water", message=text)


# -- follow-ups that come due late ----------------------------------------------------------

SEND = "send"
MOVE = "move"
DROP = "drop"


@dataclass(frozen=True)
class LateVerdict:
    """What the dispatcher does with a follow-up row that is due now.

    ``send`` it now, ``move`` it to ``due`` (it stays pending), or ``drop`` it.
    ``text``, if set, replaces the planned wording (and is stored with the row);
    ``reason`` goes to the row's ``last_error`` and never holds message text.
    """

    action: str
    due: datetime | None = None
    text: str | None = None
    reason: str | None = None


def _scaled_seconds(minutes: int, time_scale: float) -> float:
    """A lateness threshold on the dispatcher's clock: scaled like the waits, at least 1 s."""
    return max(1.0, minutes * 60 * time_scale)


def late_followup(
    kind: str,
    text: str,
    due: datetime,
    now: datetime,
    profile: Profile,
    content: Content,
    *,
    time_scale: float = 1.0,
) -> LateVerdict:
    """Decide about a follow-up row (``hydration`` or ``checkin``) that is due at ``now``.

    - A hydration reminder more than ``hydration_useful_for_minutes`` late is
      pointless: dropped.
    - Inside the person's quiet hours (the bot came back at night, or the quiet
      hours changed) it moves to their end (DST-correct); a hydration reminder
      moved that far gets the morning-after wording, anything else that is late
      gets the late wording.
    - Otherwise it is sent now, with the late wording if it is more than
      ``late_wording_after_minutes`` late.

    Thresholds are scaled by ``time_scale`` like every wait (at least 1 s). A
    next-day check is never dropped for being late: it is where the advice to see
    a professional comes from.
    """
    rules = content.followups
    late = (now - due).total_seconds()
    if kind == Kind.HYDRATION and late > _scaled_seconds(rules.hydration_useful_for_minutes, time_scale):
        return LateVerdict(DROP, reason=f"pointless: late by {late:.0f}s")
    is_late = late > _scaled_seconds(rules.late_wording_after_minutes, time_scale)
    allowed = next_allowed(now, profile)
    if allowed > now:
        wording = hydration_wording(due, allowed, content) if kind == Kind.HYDRATION else None
        if wording is None and is_late:
            wording = late_wording(text, content)
        return LateVerdict(MOVE, due=allowed, text=wording, reason="quiet hours")
    if is_late:
        return LateVerdict(SEND, text=late_wording(text, content), reason=f"late by {late:.0f}s")
    return LateVerdict(SEND)


def check_prefix_of(hydration_key: str) -> str | None:
    """``fu:hyd:<session>`` → ``fu:chk:<session>:``, the keys of that session's checks."""
    if not hydration_key.startswith(HYDRATION_KEY_PREFIX):
        return None
    return f"{FOLLOWUP_KEY_PREFIX}chk:{hydration_key.removeprefix(HYDRATION_KEY_PREFIX)}:"


def fold_into_check(
    verdict: LateVerdict, check_due: datetime | None, check_text: str, content: Content
) -> tuple[LateVerdict, str | None]:
    """A hydration reminder moved to or past its session's next pending check goes with it.

    Returns the verdict (``drop`` if folded) and the check's new wording (None:
    unchanged), as :func:`schedule_followups` does when it plans them.
    """
    if verdict.action != MOVE or verdict.due is None or check_due is None or verdict.due < check_due:
        return verdict, None
    return LateVerdict(DROP, reason="folded into the next-day check"), with_water(check_text, content)


# -- out-of-band buttons -----------------------------------------------------------------


def on_press(state: State, action: Action, env: Env) -> Decision | None:
    """Follow-up buttons (the follow-up band): valid whatever step the conversation is at."""
    t = env.content.text
    match action:
        case FollowupTap.OFF:
            profile = replace(env.profile, followups=False)
            back = _back_to(state)
            return Decision(
                back, (SetProfile(profile), Cancel(FOLLOWUP_KEY_PREFIX), _reply(t("reminders.off")))
            )
        case FollowupTap.ON:
            profile = replace(env.profile, followups=True)
            if profile.tz is None:
                return ask_tz(state, env, SetProfile(profile)) if state.step is Step.IDLE else None
            return Decision(state, (SetProfile(profile), _reply(t("reminders.on"))))
        case FollowupTap.TZ:
            if state.step not in (Step.IDLE, Step.TZ_ASK, Step.TZ_CONFIRM):
                return Decision(state, (_reply(t("reminders.finish_session_first")),))
            return ask_tz(State(prompt=state.prompt, session=state.session), env)
        case FollowupTap.HOURS:
            return Decision(state, (hours_question(env),))
        case ReminderHour(hour):
            if hour not in env.content.followups.hour_choices:
                return None
            profile = replace(env.profile, hour=hour)
            return Decision(
                state, (SetProfile(profile), _reply(t("reminders.hour_set", hour=f"{hour:02d}:00")))
            )
        case FollowupTap.QUIET:
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
        case CheckAnswer():
            return on_check_answer(state, action, env)
    return None


def _back_to(state: State) -> State:
    """Turning reminders off while the time zone is asked ends that question."""
    if state.step in (Step.TZ_ASK, Step.TZ_CONFIRM):
        return State(prompt=state.prompt + 1, session=state.session)
    return state


@dataclass(frozen=True)
class CheckRef:
    """One next-day check: the ``n``-th check of a session's area (its row key is :attr:`key`)."""

    session: int
    area: str
    n: int

    @property
    def key(self) -> str:
        return f"{FOLLOWUP_KEY_PREFIX}chk:{self.session}:{self.area}:{self.n}"


def check_of(answer: CheckAnswer) -> CheckRef:
    """The check a check answer answers."""
    return CheckRef(answer.session, answer.area, answer.n)


def on_check_answer(state: State, pressed: CheckAnswer, env: Env) -> Decision | None:
    """An answer counts once, and only for a check the bot sent (``env.checks``, from the database):
    a forged one (any session, area or number) is stale, a second tap is "already noted"."""
    check, answer = check_of(pressed), pressed.answer
    if answer not in ANSWERS:
        return None
    status = env.checks.get(check.key)
    if status is None or check.area not in {a.id for a in env.content.areas}:
        return None
    c = env.content
    if status is CheckStatus.ANSWERED:
        return Decision(state, (Toast(c.text("toast.already")),))
    session, area_id, n = check.session, check.area, check.n
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
            massage = (_btn(t("button.start_session"), FollowupTap.MASSAGE),)
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
    hours = [_btn(f"{h:02d}:00", ReminderHour(h)) for h in env.content.followups.hour_choices]
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
        _btn(t("button.reminders_off"), FollowupTap.OFF)
        if profile.followups
        else _btn(t("button.reminders_on"), FollowupTap.ON)
    )
    rows = (
        (toggle,),
        (_btn(t("button.change_hour"), FollowupTap.HOURS),),
        (_btn(t("button.change_zone"), FollowupTap.TZ),),
        (_btn(t("button.quiet_toggle"), FollowupTap.QUIET),),
    )
    return _reply(status, rows)
