# ruff: noqa: F811 - the fixtures api and make_settings are imported from tests.test_telegram_e2e
"""Follow-ups and Telegram's limits end to end: real PTB over HTTP to the fake Bot API, real SQLite.

Time is scaled down so that a day passes in seconds. The local hour and DST
rules are checked precisely (fixed clock) in tests/test_followups_delivery.py;
here the point is that the messages really arrive through Telegram's API, once,
and keep arriving when Telegram answers 429, 5xx or 403.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.fakebotapi import FakeBotAPI, FakeUser
from tests.test_telegram_e2e import api, make_settings, running_bot, to_hold  # noqa: F401 - fixtures

DAY_IN_SECONDS_AT = 0.0001  # KNOTBOT_TIME_SCALE: a day passes in 8.6 s


def offset_where_it_is_noon() -> str:
    """A UTC offset where it is about noon now, so that no follow-up falls into quiet hours."""
    hour = datetime.now(UTC).hour
    offset = 12 - hour if 12 - hour >= -12 else 36 - hour
    return f"UTC{'+' if offset >= 0 else '-'}{abs(offset):02d}:00"


async def finish(user: FakeUser) -> None:
    await user.wait_for("How was the pressure?", timeout=15)
    await user.press("Just right")
    await user.wait_for("How does the knot feel")
    await user.press("Softer")
    await user.wait_for("What next?")
    await user.press("Finish")
    await user.wait_for("check in later")
    await user.press("Yes, check in")
    await user.wait_for("Share my location")


async def test_full_follow_up_loop_over_telegram(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings(time_scale=DAY_IN_SECONDS_AT)):
        ann = api.user(3101, "Ann")
        await to_hold(ann)
        await finish(ann)
        keyboard = api.calls_to("sendMessage")[-1].params["reply_markup"]
        assert keyboard["keyboard"][0][0]["request_location"] is True
        await ann.send_text(offset_where_it_is_noon())
        await ann.wait_for("Your time zone is UTC")
        await ann.wait_for("drink a glass of water", timeout=15)
        check = await ann.wait_for("feel today?", timeout=30)
        assert "Stop reminders" in [b for row in check.keyboard for b in (x["text"] for x in row)]
        await ann.press("Better")
        await ann.wait_for("keep your upper back that way")
        await ann.wait_idle()
        assert sum("feel today?" in m.text for m in ann.messages) == 1
        assert sum("drink a glass of water" in m.text for m in ann.messages) == 1


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
