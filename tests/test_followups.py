"""Follow-ups in the pure core: time zones, quiet hours and DST, opting in, the next-day check, /reminders."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.actions import decode_action
from bot.domain.content import Content
from bot.domain.decision import CheckStatus, Decision, Env
from bot.domain.effects import Cancel, RecordCheckin, Reply, Schedule, SetProfile, Toast
from bot.domain.events import Location, Press
from bot.domain.followups import (
    DROP,
    MOVE,
    SEND,
    CheckRef,
    LateVerdict,
    check_prefix_of,
    fold_into_check,
    late_followup,
    late_wording,
    with_water,
)
from bot.domain.matcher import Matcher
from bot.domain.profile import Profile
from bot.domain.state import Step
from bot.domain.timezones import ZoneMatcher
from bot.domain.timing import (
    days_later_at,
    in_quiet_hours,
    local_at,
    next_allowed,
    parse_offset,
    zone,
)
from tests.conftest import CoreDriver, core_reply_text

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- timing: offsets, quiet hours, DST --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UTC+2", "UTC+02:00"),
        ("+05:30", "UTC+05:30"),
        ("gmt-8", "UTC-08:00"),
        ("UTC", "UTC+00:00"),
        ("utc+14", "UTC+14:00"),
        ("UTC+15", None),
        ("+5:17", None),
        ("Berlin", None),
    ],
)
def test_parse_offset(text: str, expected: str | None) -> None:
    assert parse_offset(text) == expected


def test_fixed_offset_zone() -> None:
    assert utc(2026, 1, 1, 12).astimezone(zone("UTC+05:30")).strftime("%H:%M") == "17:30"
    with pytest.raises(ValueError):
        zone("Mars/Olympus_Mons")


def test_quiet_hours_wrap_midnight() -> None:
    profile = Profile(tz="Europe/Berlin")  # quiet 21:00-08:00
    assert in_quiet_hours(utc(2026, 1, 10, 20, 30), profile)  # 21:30 Berlin (UTC+1)
    assert in_quiet_hours(utc(2026, 1, 10, 6, 59), profile)  # 07:59
    assert not in_quiet_hours(utc(2026, 1, 10, 7, 0), profile)  # 08:00
    assert not in_quiet_hours(utc(2026, 1, 10, 19, 59), profile)  # 20:59
    assert not in_quiet_hours(utc(2026, 1, 10, 23), Profile(tz="Europe/Berlin", quiet_start=0, quiet_end=0))


def test_next_allowed_moves_to_the_end_of_quiet_hours() -> None:
    profile = Profile(tz="Europe/Berlin")
    assert next_allowed(utc(2026, 1, 10, 22), profile) == utc(2026, 1, 11, 7)  # 23:00 → 08:00 next day
    assert next_allowed(utc(2026, 1, 11, 2), profile) == utc(2026, 1, 11, 7)  # 03:00 → 08:00 same day
    assert next_allowed(utc(2026, 1, 11, 9), profile) == utc(2026, 1, 11, 9)  # not quiet: unchanged


def test_next_day_check_is_at_ten_local_across_spring_forward() -> None:
    profile = Profile(tz="Europe/Berlin", hour=10)
    # Saturday 28 March 2026, 20:00 CET; clocks go forward that night
    due = days_later_at(utc(2026, 3, 28, 19), 1, profile)
    assert due == utc(2026, 3, 29, 8)  # 10:00 CEST = 08:00 UTC
    assert due.astimezone(BERLIN).hour == 10


def test_next_day_check_is_at_ten_local_across_fall_back() -> None:
    profile = Profile(tz="America/New_York", hour=10)
    due = days_later_at(utc(2026, 10, 31, 22), 1, profile)  # 18:00 EDT on 31 Oct; 1 Nov clocks fall back
    assert due == utc(2026, 11, 1, 15)  # 10:00 EST = 15:00 UTC
    assert due.astimezone(ZoneInfo("America/New_York")).hour == 10


def test_quiet_hours_end_is_correct_on_the_dst_night() -> None:
    profile = Profile(tz="Europe/Berlin")
    # 23:30 CET on 28 March: quiet until 08:00 CEST on 29 March = 06:00 UTC
    assert next_allowed(utc(2026, 3, 28, 22, 30), profile) == utc(2026, 3, 29, 6)


def test_a_missing_local_hour_moves_forward() -> None:
    assert local_at(date(2026, 3, 29), 2, BERLIN) == utc(2026, 3, 29, 1)  # 02:00 does not exist: 03:00 CEST


def test_check_hour_inside_quiet_hours_is_moved_unless_quiet_hours_are_off() -> None:
    early = Profile(tz="Europe/Berlin", hour=7)
    assert days_later_at(utc(2026, 1, 10, 12), 1, early) == utc(2026, 1, 11, 7)  # 08:00 Berlin
    no_quiet = dataclasses.replace(early, quiet_start=0, quiet_end=0)
    assert days_later_at(utc(2026, 1, 10, 12), 1, no_quiet) == utc(2026, 1, 11, 6)  # 07:00 Berlin


# -- typed time zones ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zones(core_content: Content) -> ZoneMatcher:
    return ZoneMatcher(core_content.cities)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Berlin", "Europe/Berlin"),
        ("berln", "Europe/Berlin"),
        ("I live in Munich", "Europe/Berlin"),
        ("são paulo", "America/Sao_Paulo"),
        ("new york", "America/New_York"),
        ("Europe/Paris", "Europe/Paris"),
        ("mumbai", "Asia/Kolkata"),
        ("UTC+2", "UTC+02:00"),
    ],
)
def test_zone_matcher_confident(zones: ZoneMatcher, text: str, expected: str) -> None:
    assert zones.match(text).zone == expected


@pytest.mark.parametrize("text", ["pizza", "", "🙂", "12345"])
def test_zone_matcher_nothing(zones: ZoneMatcher, text: str) -> None:
    found = zones.match(text)
    assert found.zone is None and not found.candidates


# -- the conversation ------------------------------------------------------------------------


class Person(CoreDriver):
    """A CoreDriver whose profile follows the SetProfile effects, as the database would, and which
    knows the checks the bot sent (every check it scheduled arrives) and those answered."""

    checks: dict[str, CheckStatus]

    def send(self, event):  # type: ignore[no-untyped-def]
        self.env = dataclasses.replace(self.env, checks=dict(getattr(self, "checks", {})))
        decision: Decision = super().send(event)
        self.checks = dict(self.env.checks)
        for effect in decision.effects:
            if isinstance(effect, SetProfile):
                self.env = dataclasses.replace(self.env, profile=effect.profile)
            elif isinstance(effect, Schedule) and effect.kind == "checkin":
                self.checks[effect.key] = CheckStatus.OPEN
            elif isinstance(effect, RecordCheckin):
                self.checks[CheckRef(effect.session, effect.area, effect.n).key] = CheckStatus.ANSWERED
        return decision


def at(moment: datetime) -> float:
    return moment.timestamp()


@pytest.fixture
def person(core_content: Content, core_matcher: Matcher) -> Person:
    env = Env(
        core_content,
        core_matcher,
        now=at(utc(2026, 3, 28, 13)),  # Saturday 14:00 in Berlin, the day before DST starts
        zones=ZoneMatcher(core_content.cities),
        locate_tz=lambda lat, lon: "Europe/Berlin" if (lat, lon) == (52.5, 13.4) else None,
    )
    return Person(env)


def finish_session(p: Person) -> Decision:
    p.command("massage")
    p.press("None of these")
    p.text("between my shoulder blades")
    p.press("Found it")
    p.press("Ball")
    p.press("Steady pressure")
    p.press("30 s")
    p.press("Start")
    p.send(Press(p.state.prompt, decode_action("int:right")))
    p.press("Softer")
    p.press("Finish")
    return p.press("Yes, check in")


def schedules(decision: Decision) -> list[Schedule]:
    return [e for e in decision.effects if isinstance(e, Schedule)]


def test_opting_in_asks_the_time_zone_once_then_schedules(person: Person) -> None:
    d = finish_session(person)
    assert d.state.step is Step.TZ_ASK
    assert not schedules(d)
    ask = [e.message for e in d.effects if isinstance(e, Reply)][-1]
    assert ask.ask_location
    d = person.text("Berlin")
    assert d.state.step is Step.IDLE and d.state.areas_done == ()
    assert person.env.profile == Profile(followups=True, tz="Europe/Berlin")
    hydration, check = schedules(d)
    assert hydration.kind == "hydration" and hydration.delay == 90 * 60
    assert hydration.key == f"fu:hyd:{d.state.session}"
    # the next day at 10:00 Berlin, which is summer time already: 08:00 UTC on 29 March
    assert (
        check.kind == "checkin"
        and check.delay == (utc(2026, 3, 29, 8) - utc(2026, 3, 28, 13)).total_seconds()
    )
    assert "upper back" in check.message.text
    text = core_reply_text(d)
    assert "Europe/Berlin" in text and "15:30" in text and "10:00" in text
    # the second time, no question: straight to scheduling
    d = finish_session(person)
    assert d.state.step is Step.IDLE
    assert len(schedules(d)) == 2


def test_time_scale_shortens_every_follow_up_wait(person: Person) -> None:
    person.env = dataclasses.replace(person.env, time_scale=0.01)
    finish_session(person)
    hydration, check = schedules(person.text("Berlin"))
    assert hydration.delay == pytest.approx(90 * 60 * 0.01)
    assert check.delay == pytest.approx(19 * 3600 * 0.01)


def test_location_finds_the_zone_and_is_not_kept(person: Person) -> None:
    finish_session(person)
    d = person.send(Location(52.5, 13.4))
    assert person.env.profile.tz == "Europe/Berlin"
    assert any(isinstance(e, Reply) and e.message.remove_keyboard for e in d.effects)
    assert "latitude" not in str(d.state.to_json())


def test_location_at_sea_asks_again(person: Person) -> None:
    finish_session(person)
    d = person.send(Location(0.0, -30.0))
    assert d.state.step is Step.TZ_ASK and person.env.profile.tz is None
    assert "couldn't find a time zone" in core_reply_text(d)


def test_unknown_city_asks_again_and_offset_works(person: Person) -> None:
    finish_session(person)
    d = person.text("Xyzzyqq")
    assert d.state.step is Step.TZ_ASK
    d = person.text("Atlantis")  # a near miss is a question, not a guess
    assert d.state.step is Step.TZ_CONFIRM and "Atlanta" in str(d.effects[-1])
    person.press("None of those")
    d = person.text("UTC+2")
    assert person.env.profile.tz == "UTC+02:00" and d.state.step is Step.IDLE


def test_close_call_offers_candidates(person: Person) -> None:
    finish_session(person)
    state = person.state.advance(Step.TZ_CONFIRM, zones=("Europe/Berlin", "Europe/Busingen"))
    person.state = state
    d = person.send(Press(state.prompt, decode_action("tz:1")))
    assert person.env.profile.tz == "Europe/Busingen" and d.state.step is Step.IDLE


def test_hydration_inside_quiet_hours_moves_to_their_end_across_dst(
    person: Person, core_content: Content
) -> None:
    # Saturday 28 March 2026, 20:00 CET; the clocks go forward that night
    person.env = dataclasses.replace(person.env, now=at(utc(2026, 3, 28, 19)))
    finish_session(person)
    d = person.text("Berlin")
    hydration, check = schedules(d)
    # planned for 21:30 CET, inside quiet hours: moved to 08:00 CEST = 06:00 UTC, not skipped
    assert hydration.kind == "hydration"
    assert hydration.delay == (utc(2026, 3, 29, 6) - utc(2026, 3, 28, 19)).total_seconds()
    assert hydration.message.text == core_content.text("followup.hydration_morning")
    assert "Stop reminders" in [b.label for row in hydration.message.buttons for b in row]
    assert check.delay == (utc(2026, 3, 29, 8) - utc(2026, 3, 28, 19)).total_seconds()  # 10:00 CEST
    assert check.message.text == "How does your upper back feel today?"  # nothing folded into it
    summary = core_reply_text(d)
    assert "a reminder to drink water at 08:00, when your quiet hours end" in summary
    assert "tomorrow at 10:00" in summary


def test_hydration_moved_across_fall_back_in_new_york(person: Person) -> None:
    # Saturday 31 October 2026, 20:00 EDT; the clocks fall back at 02:00 on 1 November
    person.env = dataclasses.replace(person.env, now=at(utc(2026, 11, 1, 0)))
    finish_session(person)
    hydration, check = schedules(person.text("New York"))
    assert hydration.delay == (utc(2026, 11, 1, 13) - utc(2026, 11, 1, 0)).total_seconds()  # 08:00 EST
    assert check.delay == (utc(2026, 11, 1, 15) - utc(2026, 11, 1, 0)).total_seconds()  # 10:00 EST


def test_hydration_moved_only_a_little_keeps_its_wording(person: Person, core_content: Content) -> None:
    person.env = dataclasses.replace(person.env, now=at(utc(2026, 1, 10, 4, 30)))  # 05:30 CET
    finish_session(person)
    hydration, _ = schedules(person.text("Berlin"))
    # planned for 07:00, moved one hour to 08:00 CET (07:00 UTC): still "later that day" wording
    assert hydration.delay == (utc(2026, 1, 10, 7) - utc(2026, 1, 10, 4, 30)).total_seconds()
    assert hydration.message.text == core_content.text("followup.hydration")


def test_hydration_at_the_check_time_is_folded_into_the_check(person: Person, core_content: Content) -> None:
    # the next-day check at 08:00, the end of quiet hours: a moved reminder would come with it
    person.env = dataclasses.replace(person.env, now=at(utc(2026, 1, 10, 19)), profile=Profile(hour=8))
    finish_session(person)
    d = person.text("Berlin")
    (check,) = schedules(d)
    assert check.kind == "checkin" and check.delay == 12 * 3600  # 08:00 CET = 07:00 UTC
    assert check.message.text == core_content.text(
        "followup.with_water", message="How does your upper back feel today?"
    )
    assert check.message.text.startswith("💧") and check.message.text.endswith("feel today?")
    summary = core_reply_text(d)
    assert "drink water, together with that check" in summary and "at about" not in summary


def test_hydration_with_quiet_hours_off_comes_as_planned(person: Person, core_content: Content) -> None:
    no_quiet = Profile(quiet_start=0, quiet_end=0)
    person.env = dataclasses.replace(person.env, now=at(utc(2026, 1, 10, 19)), profile=no_quiet)
    finish_session(person)
    d = person.text("Berlin")
    hydration, _check = schedules(d)
    assert hydration.delay == 90 * 60  # 21:30 Berlin, as the person chose
    assert hydration.message.text == core_content.text("followup.hydration")
    assert "at about 21:30" in core_reply_text(d)


def check_press(check: Schedule, answer: str) -> Press:
    for row in check.message.buttons:
        for button in row:
            if button.data.endswith(f":{answer}"):
                from bot.domain.events import decode_press

                press = decode_press(button.data)
                assert isinstance(press, Press)
                return press
    raise AssertionError(answer)


def first_check(person: Person) -> Schedule:
    finish_session(person)
    return next(s for s in schedules(person.text("Berlin")) if s.kind == "checkin")


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        ("better", "keep your upper back that way"),
        ("worse", "physical therapist or physician"),
        ("nerve", "emergency number"),
    ],
)
def test_check_answers(person: Person, answer: str, needle: str) -> None:
    check = first_check(person)
    d = person.send(check_press(check, answer))
    assert needle in core_reply_text(d)
    assert RecordCheckin(session=person.state.session, area="upper_back", n=0, answer=answer) in d.effects
    assert not schedules(d)


def test_same_twice_leads_to_a_referral(person: Person) -> None:
    check = first_check(person)
    d = person.send(check_press(check, "same"))
    repeat = schedules(d)
    assert len(repeat) == 1 and repeat[0].key.endswith(":1")
    assert repeat[0].delay > 2 * 86400  # three days later at 10:00
    assert "Start a session" in [b.label for row in d.effects[1].message.buttons for b in row]  # type: ignore[union-attr]
    d = person.send(check_press(repeat[0], "same"))
    assert "persists despite self-treatment" in core_reply_text(d)
    assert "dry needling" in core_reply_text(d)
    assert not schedules(d)


def test_check_buttons_work_in_the_middle_of_another_session(person: Person) -> None:
    check = first_check(person)
    person.command("massage")
    step = person.state.step
    d = person.send(check_press(check, "better"))
    assert d.state.step is step  # the session goes on
    assert any(isinstance(e, RecordCheckin) for e in d.effects)


def test_a_check_answer_counts_once_and_only_for_a_check_that_was_sent(person: Person) -> None:
    check = first_check(person)
    state = person.state
    forged = [
        Press(
            0, decode_action(f"fu.chk:{person.state.session + 1}:upper_back:0:same")
        ),  # a session with no check
        Press(0, decode_action(f"fu.chk:{person.state.session}:neck:0:same")),  # an area that was not worked
        Press(0, decode_action(f"fu.chk:{person.state.session}:upper_back:7:same")),  # a repeat never asked
        Press(0, decode_action("fu.chk:00:upper_back:٠:same")),  # digits that are not ASCII
    ]
    for press in forged:
        d = person.send(press)
        assert d.effects == (Toast("That button is no longer active."),), press
        assert d.state == state
    d = person.send(check_press(check, "same"))
    assert len(schedules(d)) == 1
    for answer in ("same", "better"):  # a second tap, or another answer to the same check
        d = person.send(check_press(check, answer))
        assert d.effects == (Toast("Already noted 👍"),)
        assert d.state == state


def test_stop_reminders_button(person: Person) -> None:
    check = first_check(person)
    stop = next(b for row in check.message.buttons for b in row if b.label == "Stop reminders")
    from bot.domain.events import decode_press

    d = person.send(decode_press(stop.data))
    assert Cancel("fu:") in d.effects
    assert person.env.profile.followups is False


def test_reminders_menu_changes_hour_zone_and_quiet_hours(person: Person) -> None:
    first_check(person)
    d = person.command("reminders")
    text = core_reply_text(d)
    assert "Europe/Berlin" in text and "10:00" in text and "21:00 to 08:00" in text
    person.press("Change the time")
    person.press("18:00")
    assert person.env.profile.hour == 18
    person.command("reminders")
    person.press("Quiet hours on/off")
    assert person.env.profile.quiet_start == person.env.profile.quiet_end
    person.command("reminders")
    person.press("Quiet hours on/off")
    assert (person.env.profile.quiet_start, person.env.profile.quiet_end) == (21, 8)
    person.command("reminders")
    d = person.press("Change time zone")
    assert d.state.step is Step.TZ_ASK
    person.text("Tokyo")
    assert person.env.profile.tz == "Asia/Tokyo"
    person.command("reminders")
    person.press("Turn reminders off")
    assert not person.env.profile.followups
    person.command("reminders")
    d = person.press("Turn reminders on")
    assert person.env.profile.followups and "on" in core_reply_text(d)


def test_saying_no_schedules_nothing(person: Person) -> None:
    person.command("massage")
    person.press("None of these")
    person.text("calves")
    for label in ("Found it", "Foam roller", "Steady pressure", "30 s", "Start"):
        person.press(label)
    person.send(Press(person.state.prompt, decode_action("int:right")))
    person.press("Softer")
    person.press("Finish")
    d = person.press("No, thanks")
    assert not schedules(d) and person.env.profile.followups is False


def test_late_time_math_does_not_depend_on_the_host_zone(person: Person) -> None:
    assert days_later_at(utc(2026, 6, 1, 23, 30), 1, Profile(tz="Asia/Tokyo")) == utc(2026, 6, 3, 1)
    assert timedelta(0) < days_later_at(utc(2026, 6, 1), 1, Profile()) - utc(2026, 6, 1)


# -- follow-ups that come due late (the bot was down): the dispatcher's decision -------------

WATER = "💧 A quick reminder: drink a glass of water."
CHECK = "How does your neck feel today?"
IN_BERLIN = Profile(followups=True, tz="Europe/Berlin")


def late(
    content: Content,
    kind: str,
    due: datetime,
    now: datetime,
    profile: Profile = IN_BERLIN,
    text: str = "",
    time_scale: float = 1.0,
) -> LateVerdict:
    text = text or (WATER if kind == "hydration" else CHECK)
    return late_followup(kind, text, due, now, profile, content, time_scale=time_scale)


def test_on_time_follow_ups_go_out_as_planned(core_content: Content) -> None:
    due = utc(2026, 1, 10, 14)  # 15:00 Berlin
    for kind in ("hydration", "checkin"):
        assert late(core_content, kind, due, due) == LateVerdict(SEND)
        assert late(core_content, kind, due, due + timedelta(minutes=30)) == LateVerdict(SEND)


def test_hydration_back_at_three_in_the_morning_is_dropped_not_sent(core_content: Content) -> None:
    # due at 19:00 Berlin, the bot comes back at 03:00: eight hours late, pointless
    verdict = late(core_content, "hydration", utc(2026, 1, 10, 18), utc(2026, 1, 11, 2))
    assert verdict.action == DROP and verdict.reason and "late by 28800s" in verdict.reason


def test_hydration_a_little_late_says_so(core_content: Content) -> None:
    verdict = late(core_content, "hydration", utc(2026, 1, 10, 14), utc(2026, 1, 10, 15))
    assert verdict.action == SEND
    assert verdict.text == core_content.text("followup.late", message=WATER)
    assert verdict.text.startswith("Sorry this comes later") and verdict.text.endswith(WATER)
    # three hours is still useful; a minute more is not
    assert late(core_content, "hydration", utc(2026, 1, 10, 10), utc(2026, 1, 10, 13)).action == SEND
    assert late(core_content, "hydration", utc(2026, 1, 10, 10), utc(2026, 1, 10, 13, 1)).action == DROP


def test_late_hydration_inside_quiet_hours_moves_to_the_morning(core_content: Content) -> None:
    # due 20:50 Berlin, the bot comes back at 21:10: quiet hours, moved to 08:00 with fitting words
    verdict = late(core_content, "hydration", utc(2026, 1, 10, 19, 50), utc(2026, 1, 10, 20, 10))
    assert verdict.action == MOVE and verdict.due == utc(2026, 1, 11, 7)
    assert verdict.text == core_content.text("followup.hydration_morning")


def test_late_check_at_night_moves_to_the_end_of_quiet_hours_on_the_dst_night(core_content: Content) -> None:
    # due 10:00 CET on 28 March; the bot comes back at 03:30 CEST, the night the clocks went forward
    verdict = late(core_content, "checkin", utc(2026, 3, 28, 9), utc(2026, 3, 29, 1, 30))
    assert verdict.action == MOVE and verdict.due == utc(2026, 3, 29, 6)  # 08:00 CEST
    assert verdict.text == core_content.text("followup.late", message=CHECK)


def test_late_check_is_sent_with_an_apology_and_never_dropped(core_content: Content) -> None:
    two_hours = late(core_content, "checkin", utc(2026, 1, 10, 9), utc(2026, 1, 10, 11))
    assert two_hours.action == SEND and two_hours.text == core_content.text("followup.late", message=CHECK)
    days = late(core_content, "checkin", utc(2026, 1, 10, 9), utc(2026, 1, 13, 11))
    assert days.action == SEND and days.text is not None and days.text.endswith(CHECK)


def test_quiet_hours_off_means_a_late_check_goes_out_at_night(core_content: Content) -> None:
    no_quiet = dataclasses.replace(IN_BERLIN, quiet_start=0, quiet_end=0)
    verdict = late(core_content, "checkin", utc(2026, 1, 10, 9), utc(2026, 1, 11, 2), no_quiet)
    assert verdict.action == SEND and verdict.text is not None


def test_on_time_check_inside_quiet_hours_moves_without_an_apology(core_content: Content) -> None:
    # the person turned quiet hours on (or changed zone) after the check was planned for 07:00
    verdict = late(core_content, "checkin", utc(2026, 1, 11, 6), utc(2026, 1, 11, 6))
    assert verdict == LateVerdict(MOVE, due=utc(2026, 1, 11, 7), text=None, reason="quiet hours")


def test_late_thresholds_scale_with_time(core_content: Content) -> None:
    due = utc(2026, 1, 10, 14)
    # scale 0.01: late wording after 18 s, hydration pointless after 108 s
    assert late(core_content, "hydration", due, due + timedelta(seconds=10), time_scale=0.01).text is None
    assert late(core_content, "hydration", due, due + timedelta(seconds=60), time_scale=0.01).text
    assert late(core_content, "hydration", due, due + timedelta(seconds=120), time_scale=0.01).action == DROP
    # never below a second, however small the scale
    tiny = late(core_content, "checkin", due, due + timedelta(seconds=0.5), time_scale=0.0001)
    assert tiny == LateVerdict(SEND)


def test_wording_is_added_once(core_content: Content) -> None:
    once = late_wording(CHECK, core_content)
    assert late_wording(once, core_content) == once
    watered = with_water(CHECK, core_content)
    assert with_water(watered, core_content) == watered and watered != CHECK


def test_a_moved_hydration_reminder_at_or_after_the_check_is_folded_into_it(core_content: Content) -> None:
    moved = LateVerdict(MOVE, due=utc(2026, 1, 11, 7), text="x", reason="quiet hours")
    folded, check_text = fold_into_check(moved, utc(2026, 1, 11, 7), CHECK, core_content)
    assert folded.action == DROP and check_text == with_water(CHECK, core_content)
    assert fold_into_check(moved, utc(2026, 1, 11, 9), CHECK, core_content) == (moved, None)
    assert fold_into_check(moved, None, CHECK, core_content) == (moved, None)
    assert fold_into_check(LateVerdict(SEND), utc(2026, 1, 10, 7), CHECK, core_content) == (
        LateVerdict(SEND),
        None,
    )
    assert check_prefix_of("fu:hyd:12") == "fu:chk:12:"
    assert check_prefix_of("fu:chk:12:neck:0") is None
