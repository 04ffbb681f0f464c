"""The practice plan's pure rules with a fixed clock: due times across DST and quiet hours, what a due
reminder does, and the /plan conversation (set up, summary, pause/resume/stop, reminder buttons)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.actions import decode_action
from bot.domain.conversation import decide
from bot.domain.decision import Decision, Env
from bot.domain.effects import Cancel, DropPlan, Kind, Message, Reply, SavePlan, Schedule, SetProfile
from bot.domain.events import Command, Press, Text, decode_press
from bot.domain.plan import (
    EVERY_DAY,
    WEEKDAYS,
    Plan,
    Verdict,
    at_reminder,
    day_of_key,
    next_due,
    parse_time,
    planned_at,
    reminder_key,
)
from bot.domain.plan_chat import following, reminder_message
from bot.domain.profile import Profile
from bot.domain.state import State, Step
from bot.domain.timezones import ZoneMatcher

BERLIN = Profile(tz="Europe/Berlin")
NO_QUIET = Profile(tz="Europe/Berlin", quiet_start=0, quiet_end=0)
EVENING = Plan(areas=("upper_back",), weekdays=EVERY_DAY, hour=19, minute=30)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19:30", (19, 30)),
        ("7:05", (7, 5)),
        ("7.30", (7, 30)),
        ("19h30", (19, 30)),
        ("at 8", (8, 0)),
        ("7pm", (19, 0)),
        ("12am", (0, 0)),
        ("12 pm", (12, 0)),
        ("24:00", None),
        ("19:75", None),
        ("13pm", None),
        ("tonight", None),
        ("", None),
    ],
)
def test_typed_times(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_time(text) == expected


# -- due times: DST and quiet hours -----------------------------------------------------------


def test_the_local_time_stays_put_across_the_spring_change() -> None:
    # Berlin goes from UTC+1 to UTC+2 on Sunday 28 March 2027
    day, at = next_due(EVENING, utc(2027, 3, 27, 12), BERLIN)
    assert (day, at) == (date(2027, 3, 27), utc(2027, 3, 27, 18, 30))
    day, at = next_due(EVENING, at, BERLIN)
    assert (day, at) == (date(2027, 3, 28), utc(2027, 3, 28, 17, 30))


def test_the_local_time_stays_put_across_the_autumn_change() -> None:
    # back to UTC+1 on Sunday 31 October 2027
    day, at = next_due(EVENING, utc(2027, 10, 30, 20), BERLIN)
    assert (day, at) == (date(2027, 10, 31), utc(2027, 10, 31, 18, 30))


def test_a_time_in_the_spring_gap_moves_on_by_the_gap_and_an_autumn_double_takes_the_first() -> None:
    night = Plan(areas=("neck",), weekdays=EVERY_DAY, hour=2, minute=30)
    # 02:30 does not exist on 28 March 2027 in Berlin: 03:30 CEST
    assert planned_at(night, date(2027, 3, 28), NO_QUIET) == utc(2027, 3, 28, 1, 30)
    # 02:30 happens twice on 31 October 2027: the first one (CEST)
    assert planned_at(night, date(2027, 10, 31), NO_QUIET) == utc(2027, 10, 31, 0, 30)


def test_only_planned_weekdays_come_due() -> None:
    mon_wed = Plan(areas=("neck",), weekdays=(0, 2), hour=8, minute=0)
    # Tuesday 7 December 2027, after 08:00 Berlin: Wednesday next
    day, at = next_due(mon_wed, utc(2027, 12, 7, 9), BERLIN)
    assert (day, day.weekday(), at) == (date(2027, 12, 8), 2, utc(2027, 12, 8, 7))
    day, _ = next_due(mon_wed, utc(2027, 12, 8, 9), BERLIN)
    assert day == date(2027, 12, 13)  # Monday


def test_weekdays_skip_the_weekend() -> None:
    plan = dataclasses.replace(EVENING, weekdays=WEEKDAYS)
    day, _ = next_due(plan, utc(2027, 12, 10, 19), BERLIN)  # Friday after 19:30 Berlin
    assert day == date(2027, 12, 13)


def test_a_time_inside_quiet_hours_moves_to_their_end() -> None:
    late = Plan(areas=("neck",), weekdays=EVERY_DAY, hour=22, minute=0)
    # quiet 21:00-08:00 Berlin: 22:00 on the 7th is sent at 08:00 on the 8th
    assert planned_at(late, date(2027, 12, 7), BERLIN) == utc(2027, 12, 8, 7)
    assert planned_at(late, date(2027, 12, 7), NO_QUIET) == utc(2027, 12, 7, 21)


def test_a_fixed_offset_zone_has_no_dst() -> None:
    fixed = Profile(tz="UTC-05:00")
    _, march = next_due(EVENING, utc(2027, 3, 27, 12), fixed)
    _, april = next_due(EVENING, utc(2027, 4, 27, 12), fixed)
    assert (march.hour, april.hour) == (0, 0)


def test_keys_carry_the_revision_and_the_local_day() -> None:
    key = reminder_key(dataclasses.replace(EVENING, rev=7), date(2027, 3, 28))
    assert key == "plan:r:7:20270328"
    assert day_of_key(key) == date(2027, 3, 28)
    assert day_of_key("plan:s:20270328:123") == date(2027, 3, 28)
    assert day_of_key("plan:r:7:2027xx28") is None


def test_the_next_reminder_is_due_after_the_scaled_gap_and_never_in_the_past() -> None:
    first_due = utc(2027, 3, 27, 18, 30)
    day, due = following(EVENING, date(2027, 3, 27), first_due, first_due, BERLIN, 1.0)
    assert (day, due) == (date(2027, 3, 28), utc(2027, 3, 28, 17, 30))  # 23 h later: the DST day
    day, due = following(EVENING, date(2027, 3, 27), first_due, first_due, BERLIN, 0.001)
    assert due == first_due + timedelta(hours=23) * 0.001
    # the bot was down for three days: the next one still to come is the fourth day's
    day, due = following(EVENING, date(2027, 3, 27), first_due, utc(2027, 3, 30, 20), BERLIN, 1.0)
    assert day == date(2027, 3, 31)


# -- what a due reminder does -------------------------------------------------------------------


def verdict(plan: Plan, **kwargs: object) -> tuple[Verdict, Plan]:
    args: dict[str, object] = {
        "late_seconds": 0.0,
        "useful_seconds": 7200.0,
        "done_today": False,
        "reminded_today": False,
        "ignored_before_offer": 3,
    }
    args.update(kwargs)
    return at_reminder(plan, **args)  # type: ignore[arg-type]


def test_a_session_that_day_suppresses_the_reminder_and_counts_as_an_answer() -> None:
    assert verdict(dataclasses.replace(EVENING, ignored=2), done_today=True) == (Verdict.SKIP, EVENING)


def test_never_a_second_reminder_on_one_day() -> None:
    assert verdict(EVENING, reminded_today=True) == (Verdict.SKIP, EVENING)


def test_a_reminder_too_late_to_be_useful_is_dropped() -> None:
    assert verdict(EVENING, late_seconds=7201.0)[0] is Verdict.DROP


def test_ignored_reminders_lead_to_one_pause_offer_only() -> None:
    plan = EVENING
    seen = []
    for _ in range(6):
        v, plan = verdict(plan)
        seen.append(v)
    assert seen == [Verdict.SEND] * 3 + [Verdict.OFFER_PAUSE] + [Verdict.SEND] * 2
    assert plan.answered() == dataclasses.replace(plan, ignored=0, pause_offered=False)


# -- the /plan conversation --------------------------------------------------------------------


class Person:
    """Plays one person against ``decide``, keeping the profile and plan the effects store."""

    def __init__(self, env: Env, now: float, profile: Profile | None = None) -> None:
        zones = ZoneMatcher(env.content.cities)
        self.env = dataclasses.replace(env, now=now, profile=profile or Profile(), zones=zones)
        self.state = State()
        self.last: Decision | None = None
        self.buttons: list[tuple[str, str]] = []

    def send(self, event: Command | Text | Press) -> Decision:
        d = decide(self.state, event, self.env)
        self.state = d.state
        self.last = d
        for e in d.effects:
            if isinstance(e, SetProfile):
                self.env = dataclasses.replace(self.env, profile=e.profile)
            elif isinstance(e, SavePlan):
                self.env = dataclasses.replace(self.env, plan=e.plan)
            elif isinstance(e, DropPlan):
                self.env = dataclasses.replace(self.env, plan=None)
            elif isinstance(e, Reply) and e.message.buttons:
                self.show(e.message)
        return d

    def show(self, message: Message) -> None:
        self.buttons = [(b.label, b.data) for row in message.buttons for b in row]

    def press(self, label: str) -> Decision:
        found = [data for text, data in self.buttons if text == label]
        assert found, (label, [t for t, _ in self.buttons])
        press = decode_press(found[0])
        assert isinstance(press, Press)
        return self.send(press)

    def texts(self) -> list[str]:
        assert self.last is not None
        return [e.message.text for e in self.last.effects if isinstance(e, Reply)]


NOW = utc(2027, 12, 7, 12).timestamp()  # Tuesday 13:00 in Berlin


def set_up(person: Person, *areas: str, days: str = "Every day", clock: str = "19:30") -> Decision:
    person.send(Command("plan"))
    for area in areas:
        person.press(person.env.content.area(area).name)
    person.press("Done")
    person.press(days)
    return person.press(clock) if clock in [t for t, _ in person.buttons] else person.send(Text(clock))


def test_setting_up_a_plan_with_a_known_zone_schedules_the_first_reminder(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    d = set_up(person, "upper_back", "neck")
    assert person.state.step is Step.IDLE
    saved = [e.plan for e in d.effects if isinstance(e, SavePlan)]
    assert saved == [Plan(areas=("upper_back", "neck"), weekdays=EVERY_DAY, hour=19, minute=30)]
    (first,) = [e for e in d.effects if isinstance(e, Schedule)]
    assert first.kind == Kind.PLAN_REMINDER
    assert first.key == "plan:r:1:20271207"
    assert first.delay == pytest.approx(timedelta(hours=6, minutes=30).total_seconds())
    assert any(isinstance(e, Cancel) and e.prefix == "plan:" for e in d.effects)
    summary = person.texts()[-1]
    assert "Upper back, Neck" in summary and "Every day" in summary and "19:30" in summary
    assert "Tue 7 Dec at 19:30" in summary
    assert [t for t, _ in person.buttons] == ["Change", "Pause the plan", "Stop and delete the plan"]


def test_the_time_zone_is_asked_when_unknown_and_the_plan_is_saved_after_it(core_env: Env) -> None:
    person = Person(core_env, NOW)
    d = set_up(person, "neck", days="Weekdays (Mon–Fri)", clock="8:30")
    assert person.state.step is Step.TZ_ASK
    assert not any(isinstance(e, SavePlan) for e in d.effects)
    d = person.send(Text("Berlin"))
    assert person.env.profile.tz == "Europe/Berlin"
    assert person.env.plan == Plan(areas=("neck",), weekdays=WEEKDAYS, hour=8, minute=30)
    (first,) = [e for e in d.effects if isinstance(e, Schedule)]
    assert first.key == "plan:r:1:20271208"  # 08:30 Berlin has passed today: tomorrow
    assert person.state.step is Step.IDLE


def test_chosen_days_and_a_time_in_quiet_hours(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    person.send(Command("plan"))
    person.press("Neck")
    person.press("Done")
    person.press("Choose days")
    person.press("Done")
    assert person.texts()[0] == core_env.content.text("plan.pick_a_day")
    person.press("Mon")
    person.press("Fri")
    person.press("✓ Mon")  # tapped again: off
    person.press("Sat")
    person.press("Done")
    assert person.state.step is Step.PLAN_TIME
    assert "21:00" not in [t for t, _ in person.buttons]
    person.send(Text("22:15"))
    assert person.state.step is Step.PLAN_TIME
    assert "quiet hours" in person.texts()[0]
    person.send(Text("18:45"))
    assert person.env.plan is not None
    assert (person.env.plan.weekdays, person.env.plan.clock) == ((4, 5), "18:45")
    assert "Fri, Sat" in person.texts()[-1]


def test_no_area_picked_cannot_be_done(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    person.send(Command("plan"))
    person.press("Done")
    assert person.state.step is Step.PLAN_AREAS
    assert person.texts()[0] == core_env.content.text("plan.pick_an_area")


def test_plan_during_a_session_asks_to_finish_first(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    person.send(Command("massage"))
    step = person.state.step
    person.send(Command("plan"))
    assert person.state.step is step
    assert person.texts()[0] == core_env.content.text("plan.finish_session_first")


def test_pause_resume_and_stop(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    set_up(person, "upper_back")
    person.send(Command("plan"))
    d = person.press("Pause the plan")
    assert person.env.plan is not None and person.env.plan.paused
    assert Cancel("plan:") in d.effects
    assert not any(isinstance(e, Schedule) for e in d.effects)
    person.send(Command("plan"))
    assert "Paused" in person.texts()[0]
    d = person.press("Resume")
    assert person.env.plan is not None and not person.env.plan.paused
    assert (person.env.plan.hour, person.env.plan.minute, person.env.plan.areas) == (19, 30, ("upper_back",))
    (again,) = [e for e in d.effects if isinstance(e, Schedule)]
    assert again.key == f"plan:r:{person.env.plan.rev}:20271207"
    person.send(Command("plan"))
    d = person.press("Stop and delete the plan")
    assert person.env.plan is None and Cancel("plan:") in d.effects
    person.send(Command("plan"))
    assert person.state.step is Step.PLAN_AREAS  # no plan: set one up


def test_change_starts_over_with_the_areas_ticked(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    set_up(person, "glutes")
    person.send(Command("plan"))
    person.press("Change")
    assert "✓ " + core_env.content.area("glutes").name in [t for t, _ in person.buttons]
    person.press("Done")
    person.press("Every day")
    d = person.press("12:30")
    assert person.env.plan is not None and person.env.plan.rev == 2
    (first,) = [e for e in d.effects if isinstance(e, Schedule)]
    assert first.key.startswith("plan:r:2:")


def reminder(person: Person, day: date = date(2027, 12, 7)) -> None:
    assert person.env.plan is not None
    person.show(reminder_message(person.env.plan, day, person.env.content))


def test_the_reminder_says_the_area_and_its_buttons_fit_telegram(core_env: Env) -> None:
    message = reminder_message(EVENING, date(2027, 12, 7), core_env.content)
    assert message.text.startswith("⏰ Time for your 5-minute upper back session")
    labels = [b.label for row in message.buttons for b in row]
    assert labels == ["Start", "Snooze 30 min", "Snooze 1 h", "Skip today", "Stop these reminders"]
    assert all(len(b.data.encode()) <= 64 for row in message.buttons for b in row)


def test_start_asks_the_screening_then_goes_to_the_planned_area(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    set_up(person, "upper_back")
    reminder(person)
    person.press("Start")
    assert person.state.step is Step.SCREENING
    person.press("None of these")
    assert (person.state.step, person.state.area) == (Step.LOCATE, "upper_back")


def test_snooze_schedules_the_reminder_again_and_skip_cancels_it(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    set_up(person, "upper_back")
    reminder(person)
    d = person.press("Snooze 1 h")
    (again,) = [e for e in d.effects if isinstance(e, Schedule)]
    assert (again.kind, again.delay) == (Kind.PLAN_SNOOZED, 3600.0)
    assert Cancel("plan:s:20271207") in d.effects
    assert "14:00" in person.texts()[0]
    reminder(person)
    d = person.press("Skip today")
    assert Cancel("plan:s:20271207") in d.effects
    assert "Wed 8 Dec at 19:30" in person.texts()[0]


def test_stop_these_reminders_pauses_and_old_buttons_then_only_answer_politely(core_env: Env) -> None:
    person = Person(core_env, NOW, BERLIN)
    set_up(person, "upper_back")
    reminder(person)
    person.press("Stop these reminders")
    assert person.env.plan is not None and person.env.plan.paused
    reminder(person)
    d = person.press("Snooze 30 min")
    assert not any(isinstance(e, Schedule) for e in d.effects)
    person.send(Command("plan"))
    person.press("Stop and delete the plan")
    reminder_buttons = reminder_message(EVENING, date(2027, 12, 7), core_env.content)
    person.show(reminder_buttons)
    d = person.press("Start")
    assert person.state.step is Step.IDLE and not any(isinstance(e, Reply) for e in d.effects)


def test_a_plan_is_offered_once_after_a_session_that_went_well(core_env: Env) -> None:
    def session(person: Person, knot: str) -> None:
        person.send(Command("massage"))
        person.press("None of these")
        person.press("Upper back")
        person.press("Found it")
        person.press("Ball (recommended)")
        person.press(core_env.content.recommended_technique().name + " (recommended)")
        person.press("30 s")
        person.press("Start")
        person.send(Press(person.state.prompt, decode_action("int:right")))
        person.send(Press(person.state.prompt, decode_action(f"knot:{knot}")))
        person.press("Finish")
        person.press("No, thanks")

    person = Person(core_env, NOW, BERLIN)
    session(person, "same")
    assert core_env.content.text("plan.offer") not in person.texts()
    session(person, "softer")
    assert person.texts()[-1] == core_env.content.text("plan.offer")
    assert person.env.profile.plan_offered and not person.env.profile.followups
    person.press("Set up a plan")
    assert person.state.step is Step.PLAN_AREAS
    person.send(Command("cancel"))
    session(person, "softer")
    assert core_env.content.text("plan.offer") not in person.texts()
