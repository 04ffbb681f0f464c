"""The conversation core at every step: one reachable state per step, and the hint per step.

``states_at_every_step`` plays real sessions against ``decide`` with the pure-core driver
(``CoreDriver``, tests/conftest.py) and keeps the first state it sees at each ``Step``, so a
test can start at any step; ``NON_ANSWER_HINTS`` is the content key of the hint that free text
answering nothing gets at each step. Used by the core tests (tests/test_conversation.py,
tests/test_conversation_properties.py) and by the end-to-end run through every step
(tests/test_telegram_e2e.py).
"""

from __future__ import annotations

from bot.domain.actions import decode_action
from bot.domain.conversation import Env
from bot.domain.events import Press
from bot.domain.state import State, Step
from tests.conftest import CoreDriver


def states_at_every_step(env: Env) -> dict[Step, State]:
    """One reachable state for each step, collected along real sessions."""
    seen: dict[Step, State] = {}

    def note(drv: CoreDriver) -> None:
        seen.setdefault(drv.state.step, drv.state)

    drv = CoreDriver(env)
    drv.command("start")
    note(drv)
    drv.press("Begin")
    note(drv)
    drv.press("One of these applies")
    note(drv)
    drv.press("None of these")
    note(drv)
    drv.send(Press(drv.state.prompt, decode_action("other")))  # AREA again
    # a close call, built directly so it does not depend on the matcher's scores
    confirm = drv.state.advance(Step.AREA_CONFIRM, candidates=("glutes", "outer_thigh"))
    seen[Step.AREA_CONFIRM] = confirm
    drv.press(env.content.area("upper_back").name)
    note(drv)
    drv.press("Found it")
    note(drv)
    drv.press(env.content.tool(env.content.area("upper_back").tools[0].tool).name)
    note(drv)
    drv.press(env.content.recommended_technique().name)
    note(drv)
    drv.press("30 s")
    note(drv)
    drv.press("Start")
    note(drv)
    drv.send(Press(drv.state.prompt, decode_action("int:right")))
    note(drv)
    drv.send(Press(drv.state.prompt, decode_action("knot:softer")))
    note(drv)
    drv.press("Finish")
    note(drv)
    drv.press("Yes, check in")  # no time zone yet: it is asked
    note(drv)
    seen[Step.TZ_CONFIRM] = drv.state.advance(Step.TZ_CONFIRM, zones=("Europe/Berlin", "Europe/Busingen"))
    # a warning sign only possibly named in free text: one yes/no question
    check = CoreDriver(env)
    check.command("start")
    check.press("Begin")
    check.press("None of these")
    check.text("I think my calf might be a bit swollen?")
    note(check)
    # setting up a practice plan: areas, days, the chosen days, the time
    plan = CoreDriver(env)
    plan.command("plan")
    note(plan)
    plan.press(env.content.area("neck").name)
    plan.press("Done")
    note(plan)
    plan.press("Choose days")
    note(plan)
    plan.press("Mon")
    plan.press("Done")
    note(plan)
    assert set(seen) == set(Step), set(Step) - set(seen)
    return seen


# the hint that free text answering nothing gets, per step (every other step: hint.use_buttons)
NON_ANSWER_HINTS = {
    Step.IDLE: "idle.hint",
    Step.AREA: "area.no_match",
    Step.AREA_CONFIRM: "area.no_match",
    Step.HOLDING: "hint.holding",
    Step.TZ_ASK: "tz.no_match",
    Step.TZ_CONFIRM: "tz.no_match",
    Step.WARNING_CHECK: "check.hint",
    Step.PLAN_TIME: "plan.time_not_understood",
}
