"""Privacy commands: /privacy (what is kept and why), /mydata (an export), /delete (erase everything).

Pure, like the rest of the core: it returns effects. /delete asks first; its
"Yes, delete" button carries the current question number, so a button from an
older message cannot erase anything. Erasing is the :class:`ForgetPerson`
effect, carried out by the service inside the update's transaction.
"""

from __future__ import annotations

from typing import Protocol

from bot.domain.actions import PrivacyTap
from bot.domain.decision import Decision, Env
from bot.domain.effects import Button, Effect, ForgetPerson, Message, Reply, Toast
from bot.domain.events import Press, encode_press
from bot.domain.state import State, Step

COMMANDS = frozenset({"privacy", "mydata", "delete"})
DELETE_YES = PrivacyTap.DELETE
DELETE_NO = PrivacyTap.KEEP
EXPORT_ATTACHMENT = "mydata"


class Ask(Protocol):
    """``conversation.ask``: store the state and send ``before`` plus the current question."""

    def __call__(self, state: State, env: Env, *before: Effect) -> Decision: ...


def _answer(state: State, env: Env, ask: Ask, *effects: Effect) -> Decision:
    """Outside a session just answer; inside one, answer and ask the current question again."""
    return Decision(state, effects) if state.step is Step.IDLE else ask(state, env, *effects)


def on_command(state: State, name: str, env: Env, ask: Ask) -> Decision:
    t = env.content.text
    if name == "privacy":
        return _answer(state, env, ask, Reply(Message(t("privacy.info", days=env.retention_days))))
    if name == "mydata":
        export = Message(t("privacy.mydata"), attachment=EXPORT_ATTACHMENT)
        return _answer(state, env, ask, Reply(export))
    # /delete: confirm first; nothing changes until the button is pressed
    buttons = (
        (Button(t("privacy.button_delete"), encode_press(state.prompt, DELETE_YES)),),
        (Button(t("privacy.button_keep"), encode_press(state.prompt, DELETE_NO)),),
    )
    return Decision(state, (Reply(Message(t("privacy.delete_confirm"), buttons)),))


def on_press(state: State, press: Press, env: Env, ask: Ask) -> Decision:
    t = env.content.text
    if press.prompt != state.prompt or press.action not in (DELETE_YES, DELETE_NO):
        # an older confirmation, or a forged one: never erase on it
        return Decision(state, (Toast(t("toast.stale")),))
    if press.action == DELETE_NO:
        return _answer(state, env, ask, Toast(t("privacy.toast_kept")), Reply(Message(t("privacy.kept"))))
    farewell = Message(t("privacy.deleted"), remove_keyboard=True)
    return Decision(State(), (Toast(t("privacy.toast_deleted")), ForgetPerson(farewell)))
