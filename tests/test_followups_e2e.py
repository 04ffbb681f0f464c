"""Follow-ups end to end: real PTB over HTTP to the fake Bot API, SQLite and PostgreSQL.

Time is scaled down (KNOTBOT_TIME_SCALE) so that a day passes in seconds: the
full loop from a session to each answer of the next-day check, the repeat check
after "about the same", a restart with follow-ups pending, and 429s, 5xx and a
blocked person. The next-day check's due time is read back from the database
and scaled up again: it must be the person's hour, in their time zone, the next
local day (zoneinfo). DST edges and quiet hours are checked with a fixed clock in
tests/test_followups.py and tests/test_followups_delivery.py; Telegram's per-chat
limit in tests/test_ratelimit.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content_loader import DEFAULT_CONTENT_DIR, load_content
from bot.settings import Settings
from bot.storage.models import CheckinAnswer, Person, ScheduledMessage
from tests.e2e_helpers import running_bot, to_hold
from tests.fakebotapi import FakeBotAPI, FakeUser
from tests.followup_helpers import count, decided_at, finish, meant, offset_where_it_is, offset_zone, query

DAY_IN_SECONDS_AT = 0.0001  # KNOTBOT_TIME_SCALE: a day passes in 8.6 s
RULES = load_content(DEFAULT_CONTENT_DIR).followups
DEFAULT_HOUR = RULES.check_hour

# one city per time zone around the world, each matched by the bot without a "did you mean"
CITIES = {
    "Honolulu": "Pacific/Honolulu",
    "Anchorage": "America/Anchorage",
    "Los Angeles": "America/Los_Angeles",
    "Denver": "America/Denver",
    "Chicago": "America/Chicago",
    "New York": "America/New_York",
    "Sao Paulo": "America/Sao_Paulo",
    "Azores": "Atlantic/Azores",
    "London": "Europe/London",
    "Berlin": "Europe/Berlin",
    "Cairo": "Africa/Cairo",
    "Moscow": "Europe/Moscow",
    "Dubai": "Asia/Dubai",
    "Karachi": "Asia/Karachi",
    "Kolkata": "Asia/Kolkata",
    "Dhaka": "Asia/Dhaka",
    "Bangkok": "Asia/Bangkok",
    "Singapore": "Asia/Singapore",
    "Tokyo": "Asia/Tokyo",
    "Sydney": "Australia/Sydney",
    "Noumea": "Pacific/Noumea",
    "Auckland": "Pacific/Auckland",
}


def city_where_it_is_about(hour: int) -> tuple[str, str]:
    """The city (and its IANA zone) whose local time now is nearest ``hour``:00, DST included."""
    now = datetime.now(UTC)

    def distance(zone_name: str) -> int:
        local = now.astimezone(ZoneInfo(zone_name))
        minutes = abs(local.hour * 60 + local.minute - hour * 60)
        return min(minutes, 24 * 60 - minutes)

    city = min(CITIES, key=lambda c: distance(CITIES[c]))
    return city, CITIES[city]


async def choose_hour(user: FakeUser, hour: int) -> None:
    await user.send_command("reminders")
    await user.wait_for(f"Next-day check at: {DEFAULT_HOUR:02d}:00")
    await user.press("Change the time")
    await user.wait_for("At what time should I ask")
    await user.press(f"{hour:02d}:00")
    await user.wait_for(f"I'll ask at {hour:02d}:00 your time")


# -- reading the database -------------------------------------------------------------------


async def followup_rows(settings: Settings, user: FakeUser) -> dict[str, ScheduledMessage]:
    """The person's follow-up rows by key (``fu:hyd:<session>``, ``fu:chk:<session>:<area>:<n>``)."""

    async def work(session: AsyncSession) -> dict[str, ScheduledMessage]:
        rows = await session.execute(
            select(ScheduledMessage)
            .join(Person, Person.id == ScheduledMessage.person_id)
            .where(Person.external_id == str(user.id), ScheduledMessage.key.startswith("fu:"))
        )
        return {row.key: row for row in rows.scalars()}

    return await query(settings, work)


async def check_rows(settings: Settings, user: FakeUser) -> dict[int, ScheduledMessage]:
    """The person's next-day check rows by number (0: the first, 1: the repeat after "same")."""
    rows = await followup_rows(settings, user)
    return {int(key.rsplit(":", 1)[1]): row for key, row in rows.items() if key.startswith("fu:chk:")}


async def checkin_answers(settings: Settings, user: FakeUser) -> list[tuple[int, str]]:
    async def work(session: AsyncSession) -> list[tuple[int, str]]:
        found = await session.execute(
            select(CheckinAnswer.n, CheckinAnswer.answer)
            .join(Person, Person.id == CheckinAnswer.person_id)
            .where(Person.external_id == str(user.id))
            .order_by(CheckinAnswer.n)
        )
        return [(n, answer) for n, answer in found.all()]

    return await query(settings, work)


def local_at(day: date, hour: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, clock_time(hour), tzinfo=tz)


def only(rows: dict[str, ScheduledMessage], prefix: str) -> ScheduledMessage:
    found = [row for key, row in rows.items() if key.startswith(prefix)]
    assert len(found) == 1, sorted(rows)
    return found[0]


# -- the full loop ------------------------------------------------------------------------


ANSWERS = [  # every answer of the next-day check but "about the same" (its own test below)
    # button, answer recorded, words of the reply, hour chosen in /reminders, time zone given as
    pytest.param("Better", "better", ("keep your upper back that way",), None, "offset", id="better"),
    pytest.param(
        "Worse",
        "worse",
        ("don't massage your upper back for now", "physical therapist or physician"),
        8,
        "city",
        id="worse",
    ),
    pytest.param(
        "Pain spreads",
        "nerve",
        ("a nerve is involved", "see a doctor soon", "Call your local emergency number now"),
        9,
        "city",
        id="nerve",
    ),
]


@pytest.mark.parametrize(("button", "answer", "reply", "hour", "zone_as"), ANSWERS)
async def test_full_follow_up_loop_over_telegram(
    api: FakeBotAPI,
    make_settings,
    button: str,
    answer: str,
    reply: tuple[str, ...],
    hour: int | None,
    zone_as: str,
) -> None:
    """Session → opt in → time zone → hydration → next-day check at the local hour → the answer's reply."""
    settings = make_settings(time_scale=DAY_IN_SECONDS_AT)
    check_hour = hour or DEFAULT_HOUR
    if zone_as == "offset":
        typed = zone_name = offset_where_it_is(17)  # late afternoon: the hydration reminder is due
        tz = offset_zone(zone_name)
    else:
        typed, zone_name = city_where_it_is_about(15)
        tz = ZoneInfo(zone_name)
    async with running_bot(settings):
        ann = api.user(3101, "Ann")
        if hour is not None:
            await choose_hour(ann, hour)
        await to_hold(ann)
        await finish(ann)
        keyboard = api.calls_to("sendMessage")[-1].params["reply_markup"]
        assert keyboard["keyboard"][0][0]["request_location"] is True
        await ann.send_text(typed)
        await ann.wait_for(f"Your time zone is {zone_name}")
        summary = await ann.wait_for("I'll check in")
        assert f"tomorrow at {check_hour:02d}:00" in summary.text

        # what was scheduled, in real (unscaled) time and the person's time zone
        decided = await decided_at(settings, ann)
        rows = await followup_rows(settings, ann)
        assert len(rows) == 2, sorted(rows)
        hydration, check = only(rows, "fu:hyd:"), only(rows, "fu:chk:")
        assert check.key.endswith(":upper_back:0")
        tomorrow = decided.astimezone(tz).date() + timedelta(days=1)
        expected = local_at(tomorrow, check_hour, tz)
        assert abs(meant(check, decided, DAY_IN_SECONDS_AT) - expected) < timedelta(seconds=1), (
            meant(check, decided, DAY_IN_SECONDS_AT).astimezone(tz),
            expected,
        )
        after = timedelta(minutes=RULES.hydration_after_minutes)
        assert abs(meant(hydration, decided, DAY_IN_SECONDS_AT) - (decided + after)) < timedelta(seconds=1)

        await ann.wait_for("drink a glass of water", timeout=15, since=0)
        question = await ann.wait_for("feel today?", timeout=30, since=0)
        assert "Stop reminders" in [b for row in question.keyboard for b in (x["text"] for x in row)]
        await ann.press(button)
        for words in reply:
            await ann.wait_for(words)
        await ann.wait_idle()
        rows = await followup_rows(settings, ann)
    assert count(ann, "feel today?") == 1
    assert count(ann, "drink a glass of water") == 1
    assert {key: row.status for key, row in rows.items()} == {hydration.key: "sent", check.key: "sent"}
    sent_check = rows[check.key]
    assert sent_check.sent_at is not None and sent_check.sent_at >= sent_check.due_at, "never early"
    assert await checkin_answers(settings, ann) == [(0, answer)]
    api.assert_no_server_errors()


SAME_SCALE = 0.00002  # a day in 1.7 s: the repeat check comes three days later


async def test_about_the_same_brings_a_repeat_check_then_a_referral(api: FakeBotAPI, make_settings) -> None:
    settings = make_settings(time_scale=SAME_SCALE)
    zone_name = offset_where_it_is(17)
    tz = offset_zone(zone_name)
    async with running_bot(settings):
        cy = api.user(3103, "Cy")
        await to_hold(cy)
        await finish(cy)
        await cy.send_text(zone_name)
        await cy.wait_for("I'll check in")
        await cy.wait_for("feel today?", timeout=30, since=0)
        await cy.press("About the same")
        same = await cy.wait_for("I'll ask again in a few days")
        assert "Start a session" in [b["text"] for row in same.keyboard for b in row]

        # the repeat check: three local days after today, at the person's hour
        decided = await decided_at(settings, cy)
        checks = await check_rows(settings, cy)
        assert sorted(checks) == [0, 1]
        repeat = checks[1]
        assert repeat.status == "pending"
        day = decided.astimezone(tz).date() + timedelta(days=RULES.repeat_after_days)
        expected = local_at(day, DEFAULT_HOUR, tz)
        assert abs(meant(repeat, decided, SAME_SCALE) - expected) < timedelta(seconds=1)

        seen = len(cy.messages)
        await cy.wait_for("feel today?", timeout=30, since=seen)
        await cy.press("About the same")
        await cy.wait_for("persists despite self-treatment")
        await cy.wait_for("physical therapist or physician")
        await cy.wait_idle()
        checks = await check_rows(settings, cy)
    assert count(cy, "feel today?") == 2
    assert count(cy, "I'll ask again in a few days") == 1
    assert sorted(checks) == [0, 1], "no third check after the referral"
    assert {row.status for row in checks.values()} == {"sent"}
    assert await checkin_answers(settings, cy) == [(0, "same"), (1, "same")]


# -- restart ---------------------------------------------------------------------------------


RESTART_SCALE = 0.0004  # hydration 2 s after opting in and useful for 4 s more: time for a restart


async def quiet_hours_off(user: FakeUser) -> None:
    await user.send_command("reminders")
    await user.wait_for("Quiet hours: 21:00 to 08:00")
    await user.press("Quiet hours on/off")
    await user.wait_for("Quiet hours are off")


async def up_to_the_time_zone(user: FakeUser) -> None:
    """Late in the evening with quiet hours off, checks at 08:00: the next-day check comes soon."""
    await quiet_hours_off(user)
    await choose_hour(user, 8)
    await to_hold(user)
    await finish(user)


async def statuses(settings: Settings, user: FakeUser) -> dict[str, str]:
    return {key.split(":")[1]: row.status for key, row in (await followup_rows(settings, user)).items()}


async def test_restart_with_pending_follow_ups_sends_each_once(api: FakeBotAPI, make_settings) -> None:
    """Two restarts: one while the follow-ups are pending, one while the checks come due."""
    settings = make_settings(time_scale=RESTART_SCALE)
    zone_name = offset_where_it_is(22)  # 08:00 is 9 to 10 hours away: 14 s at this scale
    people = [api.user(3401, "Flo"), api.user(3402, "Gil"), api.user(3403, "Hu")]
    async with running_bot(settings):
        await asyncio.gather(*(up_to_the_time_zone(person) for person in people))
        for person in people:  # everyone opts in at about the same moment, then the bot stops
            await person.send_text(zone_name)
        for person in people:
            await person.wait_for("I'll check in")
    for person in people:
        assert await statuses(settings, person) == {"hyd": "pending", "chk": "pending"}

    async with running_bot(settings):  # a new process: a new Application on the same database
        for person in people:
            await person.wait_for("drink a glass of water", timeout=15, since=0)
        for person in people:
            await person.wait_idle(quiet=0.5)
    for person in people:
        assert await statuses(settings, person) == {"hyd": "sent", "chk": "pending"}

    # down while the checks come due
    checks = [row for person in people for row in (await check_rows(settings, person)).values()]
    await asyncio.sleep(max(0.0, max(row.due_at for row in checks).timestamp() - time.time()) + 0.5)
    async with running_bot(settings):
        for person in people:
            await person.wait_for("feel today?", timeout=15, since=0)
        for person in people:
            await person.wait_idle(quiet=1.0)
    for person in people:
        assert count(person, "drink a glass of water") == 1
        assert count(person, "feel today?") == 1
        assert await statuses(settings, person) == {"hyd": "sent", "chk": "sent"}
    api.assert_no_server_errors()


# -- Telegram's errors --------------------------------------------------------------------------


async def test_shared_location_sets_the_time_zone(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=DAY_IN_SECONDS_AT)):
        bo = api.user(3102, "Bo")
        await to_hold(bo)
        await finish(bo)
        await bo.send_location(52.52, 13.40)
        await bo.wait_for("Your time zone is Europe/Berlin")
        removed = [
            c for c in api.calls_to("sendMessage") if "remove_keyboard" in str(c.params.get("reply_markup"))
        ]
        assert removed, "the location keyboard is taken away"
        await bo.send_command("reminders")
        await bo.wait_for("Time zone: Europe/Berlin")


async def test_429_storm_and_5xx_delay_but_never_lose_or_double(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=0.1, dispatch_poll_seconds=0.5)):
        people = [api.user(3200 + i, f"P{i}") for i in range(3)]
        for person in people:
            await to_hold(person)
        api.fail_next("sendMessage", 429, retry_after=1, count=4)
        api.fail_next("sendMessage", 502, "Bad Gateway", count=3)
        for person in people:
            await person.wait_for("Release the pressure gradually", timeout=30)
        for person in people:
            await person.wait_idle(quiet=1.0, timeout=20)
        assert api.rate_limited_count >= 1 or any(c.error_code == 429 for c in api.calls)
        for person in people:
            texts = [m.text for m in person.messages]
            assert sum("Release the pressure gradually" in t for t in texts) == 1
            assert sum("Halfway" in t for t in texts) <= 1
            # order: the prompts of the hold arrive in time order
            keys = [t.split()[0] for t in texts[texts.index(next(t for t in texts if "Press in now" in t)) :]]
            assert keys.index("Press") < keys.index("Time's")


async def test_a_blocked_person_is_dropped_and_nobody_else_is_affected(
    api: FakeBotAPI, make_settings
) -> None:
    async with running_bot(make_settings(time_scale=0.1)):
        cy, di = api.user(3301, "Cy"), api.user(3302, "Di")
        await to_hold(cy)
        api.block_user(cy.id)  # Cy blocks the bot in the middle of the hold
        await to_hold(di)
        await di.wait_for("Release the pressure gradually", timeout=15)
        await di.press("Just right")
        await di.wait_for("How does the knot feel")
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # give the dispatcher a chance to (not) retry Cy
            await di.wait_idle(quiet=0.5)
        blocked = [c for c in api.calls_to("sendMessage") if c.chat_id == cy.id and c.error_code == 403]
        assert len(blocked) == 1, "one refusal, then Cy is marked inactive and nothing more is tried"
