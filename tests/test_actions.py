"""The codec of button actions (bot/domain/actions.py): today's wire strings, both ways, and
every action the content can produce fits Telegram's 64 bytes and round-trips."""

from __future__ import annotations

from datetime import date

import pytest

from bot.content_loader import DEFAULT_CONTENT_DIR, load_content
from bot.domain.actions import (
    FIELDED,
    FIXED,
    Action,
    Area,
    Band,
    CheckAnswer,
    Flag,
    FollowupTap,
    HoldLength,
    Intensity,
    Knot,
    PlanArea,
    PlanGo,
    PlanSkip,
    PlanSnooze,
    PlanTap,
    PlanTime,
    PlanWeekday,
    PrivacyTap,
    ReminderHour,
    Tap,
    Technique,
    Tool,
    TzChoice,
    Unknown,
    decode_action,
    encode_action,
)
from bot.domain.content import Content
from bot.domain.conversation import INTENSITIES, KNOT_FEELS
from bot.domain.events import CALLBACK_DATA_LIMIT, BadPress, Press, decode_press, encode_press
from bot.domain.followups import ANSWERS, OUT_OF_BAND
from bot.domain.plan import EVERY_DAY
from bot.domain.timezones import MAX_CANDIDATES

# the wire strings the bot has sent so far (buttons already in people's chats): they must keep
# meaning the same; written out by hand, on purpose, so a change to the codec cannot move them
WIRE = [
    ("begin", Tap.BEGIN),
    ("none", Tap.NONE),
    ("some", Tap.SOME),
    ("other", Tap.OTHER),
    ("found", Tap.FOUND),
    ("cant", Tap.CANT),
    ("spot", Tap.SPOT),
    ("finish", Tap.FINISH),
    ("start", Tap.START),
    ("cancel", Tap.CANCEL),
    ("intense", Tap.INTENSE),
    ("pause", Tap.PAUSE),
    ("resume", Tap.RESUME),
    ("stop", Tap.STOP),
    ("again", Tap.AGAIN),
    ("yes", Tap.YES),
    ("no", Tap.NO),
    ("location", Tap.LOCATION),
    ("tz:other", Tap.TZ_OTHER),
    ("fu:yes", Tap.FOLLOWUPS_YES),
    ("fu:no", Tap.FOLLOWUPS_NO),
    ("pa.done", Tap.PLAN_AREAS_DONE),
    ("pd:every", Tap.EVERY_DAY),
    ("pd:weekdays", Tap.WEEKDAYS),
    ("pd:choose", Tap.CHOOSE_DAYS),
    ("pw.done", Tap.PLAN_DAYS_DONE),
    ("flag:chest_pain", Flag("chest_pain")),
    ("area:upper_back", Area("upper_back")),
    ("area:quads", Area("quads")),
    ("tool:foam_roller", Tool("foam_roller")),
    ("tech:static_pressure", Technique("static_pressure")),
    ("len:30", HoldLength(30)),
    ("len:60", HoldLength(60)),
    ("int:right", Intensity("right")),
    ("knot:softer", Knot("softer")),
    ("tz:0", TzChoice(0)),
    ("tz:2", TzChoice(2)),
    ("pa:neck", PlanArea("neck")),
    ("pw:0", PlanWeekday(0)),
    ("pw:6", PlanWeekday(6)),
    ("pt:0730", PlanTime(7, 30)),
    ("pt:1930", PlanTime(19, 30)),
    ("priv:delete", PrivacyTap.DELETE),
    ("priv:keep", PrivacyTap.KEEP),
    ("pl.new", PlanTap.NEW),
    ("pl.change", PlanTap.CHANGE),
    ("pl.stop", PlanTap.STOP),
    ("pl.pause", PlanTap.PAUSE),
    ("pl.off", PlanTap.OFF),
    ("pl.resume", PlanTap.RESUME),
    ("pl.keep", PlanTap.KEEP),
    ("pl.go:upper_back", PlanGo("upper_back")),
    ("pl.snz:30:20261204", PlanSnooze(30, date(2026, 12, 4))),
    ("pl.snz:60:20260101", PlanSnooze(60, date(2026, 1, 1))),
    ("pl.skip:20261204", PlanSkip(date(2026, 12, 4))),
    ("fu.off", FollowupTap.OFF),
    ("fu.on", FollowupTap.ON),
    ("fu.tz", FollowupTap.TZ),
    ("fu.hours", FollowupTap.HOURS),
    ("fu.quiet", FollowupTap.QUIET),
    ("fu.massage", FollowupTap.MASSAGE),
    ("fu.hour:8", ReminderHour(8)),
    ("fu.hour:20", ReminderHour(20)),
    ("fu.chk:12:upper_back:0:same", CheckAnswer(12, "upper_back", 0, "same")),
    ("fu.chk:3:calves:1:nerve", CheckAnswer(3, "calves", 1, "nerve")),
]


@pytest.mark.parametrize(("wire", "action"), WIRE, ids=[w for w, _ in WIRE])
def test_todays_wire_strings_decode_to_their_typed_actions_and_back(wire: str, action: Action) -> None:
    assert decode_action(wire) == action
    assert encode_action(action) == wire
    assert encode_press(7, action) == f"k1:7:{wire}"
    assert decode_press(f"k1:7:{wire}") == Press(7, action)


@pytest.mark.parametrize(
    ("wire", "band"),
    [
        ("frobnicate", Band.QUESTION),
        ("nonsense:action", Band.QUESTION),
        ("area:a:b", Band.QUESTION),  # a field too many
        ("len:abc", Band.QUESTION),
        ("len:-30", Band.QUESTION),
        ("len:²", Band.QUESTION),  # a digit that is not a decimal
        ("tz:x", Band.QUESTION),
        ("pt:730", Band.QUESTION),
        ("pt:٠٧٣٠", Band.QUESTION),
        ("fu:maybe", Band.QUESTION),
        ("priv:everything", Band.PRIVACY),
        ("pl.frob", Band.PLAN),
        ("pl.skip:20261340", Band.PLAN),  # no such day
        ("pl.snz:30", Band.PLAN),
        ("pl.go", Band.PLAN),
        ("fu.frob", Band.FOLLOWUP),
        ("fu.hour:x", Band.FOLLOWUP),
        ("fu.chk:1:upper_back:0:maybe", Band.FOLLOWUP),
        ("fu.chk:00:upper_back:٠:same", Band.FOLLOWUP),  # digits that are not ASCII
        ("fu.chk:1:upper_back:0", Band.FOLLOWUP),
    ],
)
def test_actions_the_bot_never_issues_are_unknown_of_the_band_they_claim(wire: str, band: Band) -> None:
    assert decode_action(wire) == Unknown(wire, band)
    assert encode_action(Unknown(wire, band)) == wire
    assert decode_press(f"k1:3:{wire}") == Press(3, Unknown(wire, band))


def test_malformed_callback_data_is_still_a_bad_press() -> None:
    for data in (None, "", "k1:5:", "k2:5:begin", "k1:x:begin", "begin"):
        assert decode_press(data) == BadPress()


# -- the contract: every action the content can produce ------------------------------------------

LARGEST_PROMPT = 10**12  # question numbers grow by a few per session: never near this
LARGEST_SESSION = 10**6  # sessions of one person
SOME_DAY = date(2026, 12, 31)  # every day is written in 8 digits


def producible(content: Content) -> list[Action]:
    """Every action a button can carry with this content, from the content and the registry."""
    c = content
    actions: list[Action] = [m for kind in FIXED for m in kind]
    actions += [Flag(f.id) for f in c.red_flags]
    actions += [Area(a.id) for a in c.areas]
    actions += [Tool(t.id) for t in c.tools]
    actions += [Technique(t.id) for t in c.techniques]
    actions += [HoldLength(s) for s in c.session.hold_seconds]
    actions += [Intensity(i) for i in INTENSITIES]
    actions += [Knot(k) for k in KNOT_FEELS]
    actions += [TzChoice(i) for i in range(MAX_CANDIDATES)]
    actions += [PlanArea(a.id) for a in c.areas]
    actions += [PlanWeekday(d) for d in EVERY_DAY]
    actions += [PlanTime(int(clock[:2]), int(clock[3:])) for clock in c.plan.time_choices]
    actions += [PlanGo(a.id) for a in c.areas]
    actions += [PlanSnooze(m, SOME_DAY) for m in c.plan.snooze_minutes]
    actions += [PlanSkip(SOME_DAY)]
    actions += [ReminderHour(h) for h in c.followups.hour_choices]
    actions += [
        CheckAnswer(LARGEST_SESSION, a.id, n, answer)
        for a in c.areas
        for n in range(c.followups.same_answers_before_referral + 1)
        for answer in ANSWERS
    ]
    return actions


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(DEFAULT_CONTENT_DIR)


def test_every_kind_of_the_registry_is_enumerated(content: Content) -> None:
    kinds = {type(a) for a in producible(content)}
    assert kinds == {*FIELDED, *FIXED}, "a new kind of action: add it to producible()"


def test_every_action_the_content_can_produce_fits_and_round_trips(content: Content) -> None:
    actions = producible(content)
    assert len(set(actions)) == len(actions)
    wires = set()
    for action in actions:
        prompt = OUT_OF_BAND if action.band in (Band.PLAN, Band.FOLLOWUP) else LARGEST_PROMPT
        for at in {prompt, LARGEST_PROMPT}:
            data = encode_press(at, action)  # raises if over the limit
            assert len(data.encode()) <= CALLBACK_DATA_LIMIT, data
            assert decode_press(data) == Press(at, action), data
        wires.add(encode_action(action))
    assert len(wires) == len(actions), "two actions share a wire string"
