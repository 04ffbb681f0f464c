"""End to end through the fake Bot API: the set-up picture shows the chosen tool, is uploaded once per
area and tool, then sent by file_id; /progress sends a chart when there are ratings and a friendly note
when there are none."""

from __future__ import annotations

from pathlib import Path

from tests.e2e_helpers import running_bot
from tests.fakebotapi import FakeBotAPI, FakeUser


async def to_setup(
    user: FakeUser, area_text: str = "between my shoulder blades", tool: str = "recommended"
) -> None:
    await user.send_command("start")
    await user.wait_for("Tap Begin")
    await user.press("Begin")
    await user.wait_for("Do any of these apply")
    await user.press("None of these")
    await user.wait_for("Where is the knot?")
    await user.send_text(area_text)
    await user.wait_for("find the exact spot")
    await user.press("Found it")
    await user.wait_for("What will you use")
    await user.press(tool)
    await user.wait_for("Two ways")


async def test_setup_picture_is_uploaded_once_then_sent_by_file_id(
    api: FakeBotAPI,
    make_settings,
) -> None:
    async with running_bot(make_settings()):
        ann, bob = api.user(7001, "Ann"), api.user(7002, "Bob")
        await to_setup(ann)
        await ann.wait_idle()
        await to_setup(bob)
        await bob.wait_idle()
        eve = api.user(7005, "Eve")
        await to_setup(eve, tool="Foam roller")
        await eve.wait_idle()
    photos = api.calls_to("sendPhoto", ok=True)
    assert len(photos) == 3
    assert "photo" in photos[0].files  # uploaded the first time
    assert not photos[1].files and isinstance(photos[1].params["photo"], str)  # then a file_id
    for call in photos[:2]:
        caption = call.params["caption"]
        assert "Ball on your Upper back" in caption  # the instruction in words
        assert "In the picture (seen from behind)" in caption  # and what the picture shows
        assert "ball here, beside the spine" in caption
    # another tool on the same area: its own picture, uploaded, and words that name that tool only
    roller = photos[2]
    assert "photo" in roller.files and roller.files["photo"].filename == "upper_back-foam_roller.png"
    assert "Foam roller on your Upper back" in roller.params["caption"]
    assert "roller across here" in roller.params["caption"] and "ball" not in roller.params["caption"]
    shown = [m for m in ann.messages if m.kind == "photo"]
    assert len(shown) == 1 and "Stand with your back to a wall" in shown[0].text
    api.assert_no_server_errors()


async def test_progress_without_and_with_ratings(api: FakeBotAPI, make_settings) -> None:
    async with running_bot(make_settings()):
        cy = api.user(7003, "Cy")
        await cy.send_command("progress")
        await cy.wait_for("Nothing to show yet")
        await cy.wait_idle()
        assert not api.calls_to("sendPhoto")
        await to_setup(cy)
        await cy.press("Steady pressure")
        await cy.wait_for("How long")
        await cy.press("30 s")
        await cy.wait_for("Get into position")
        await cy.press("Start")
        await cy.wait_for("Release the pressure gradually", timeout=10)
        await cy.press("Just right")
        await cy.wait_for("How does the knot feel")
        await cy.press("Softer")
        await cy.wait_for("What next?")
        await cy.send_command("progress")
        chart = await cy.wait_for("So far: 1 session and 1 round")
        await cy.wait_idle()
    assert chart.kind == "photo"
    assert "Upper back: softer" in chart.text
    upload = api.calls_to("sendPhoto", ok=True)[-1]
    assert "photo" in upload.files and upload.files["photo"].filename == "progress.png"
    commands = api.calls_to("setMyCommands")[0].params["commands"]
    assert "progress" in {c["command"] for c in commands}
    api.assert_no_server_errors()


async def test_help_lists_progress(api: FakeBotAPI, make_settings, tmp_path: Path) -> None:
    async with running_bot(make_settings()):
        di = api.user(7004, "Di")
        await di.send_command("help")
        await di.wait_for("/progress")


async def test_a_picture_that_keeps_failing_gives_way_to_its_words(
    api: FakeBotAPI,
    make_settings,
) -> None:
    """sendPhoto keeps failing (a 500): after one short retry the set-up's words go alone, and the
    next question is not held up behind the picture's retries."""
    async with running_bot(make_settings()):
        dot = api.user(7006, "Dot")
        api.fail_next("sendPhoto", 500, "Internal Server Error", count=100)
        await to_setup(dot)  # waits for the technique question that follows the picture
        await dot.wait_idle()
    assert not api.calls_to("sendPhoto", ok=True) and len(api.calls_to("sendPhoto")) == 2  # tried twice
    texts = dot.texts
    setup = next(i for i, t in enumerate(texts) if "Ball on your Upper back" in t)
    assert setup < next(i for i, t in enumerate(texts) if "Two ways" in t)  # the words, in order
    assert "In the picture" not in texts[setup]  # no words about a picture that was not sent
