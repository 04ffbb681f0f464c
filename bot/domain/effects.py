"""What the core asks the outside world to do: the outputs of ``decide``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.plan import Plan
from bot.domain.profile import Profile


class Kind(StrEnum):
    """What a message is: the ``kind`` column of scheduled_messages (the values are what is stored).

    The domain chooses the kind of what it schedules; the service and the deliverer add the three
    sent at once, and the dispatcher decides by kind what to do with a row that is late or due.
    """

    REPLY = "reply"  # an answer to an event, sent right after the commit (service)
    NOTE = "note"  # "a message was dropped" after a flood of scheduled ones, sent directly (delivery)
    FAREWELL = "farewell"  # after /delete, sent directly: its row would be erased (service)
    HOLD_COUNTDOWN = "hold_countdown"  # the get-ready countdown ("3…", "2…", "1…"), dropped quietly when late
    HOLD_PROMPT = "hold_prompt"  # a prompt during a hold
    HOLD_END = "hold_end"  # the end of a hold, with the intensity question
    HYDRATION = "hydration"  # follow-up: the drink-water reminder after a session
    CHECKIN = "checkin"  # follow-up: how does the spot feel now?
    PLAN_REMINDER = "plan_reminder"  # the practice plan's reminder of a planned day
    PLAN_SNOOZED = "plan_snoozed"  # the same reminder again, 30 or 60 minutes later


@dataclass(frozen=True)
class Button:
    """An inline button: label shown, callback data sent back."""

    label: str
    data: str


@dataclass(frozen=True)
class Message:
    """One message to the person, with optional rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # rendered when sent: "area:<id>:<tool>" (placement picture), "progress" (chart), "mydata" (JSON export)
    attachment: str | None = None
    # what the attachment shows, in words (screen readers read it aloud): sent with the attachment
    # only, so the words never point at a picture that could not be sent
    about_attachment: str = ""
    ask_location: bool = False  # offer Telegram's "share location" keyboard button
    remove_keyboard: bool = False  # take away a "share location" keyboard shown before


@dataclass(frozen=True)
class Reply:
    """Send now, in reply to the event."""

    message: Message


@dataclass(frozen=True)
class Toast:
    """A short pop-up answer to a button press (Telegram's answerCallbackQuery)."""

    text: str


@dataclass(frozen=True)
class Schedule:
    """Send later. ``key`` is unique per person; ``late_after`` drops it if it is that late."""

    key: str
    delay: float  # seconds from now, already scaled
    message: Message
    kind: Kind
    late_after: float | None = None


@dataclass(frozen=True)
class Cancel:
    """Cancel every pending scheduled message of this person whose key starts with ``prefix``."""

    prefix: str


@dataclass(frozen=True)
class SetProfile:
    """Replace the person's follow-up preferences."""

    profile: Profile


@dataclass(frozen=True)
class SavePlan:
    """Store the person's practice plan (replacing the one before)."""

    plan: Plan


@dataclass(frozen=True)
class DropPlan:
    """Delete the person's practice plan (/plan → Stop)."""


@dataclass(frozen=True)
class RecordRound:
    """A finished round, kept for progress and follow-ups (ids and ratings only)."""

    session: int
    round: int
    area: str
    tool: str
    technique: str
    hold_seconds: int
    intensity: str
    knot: str


@dataclass(frozen=True)
class RecordCheckin:
    """An answer to a follow-up check: how the spot feels (the ``n``-th check of that chain)."""

    session: int
    area: str
    n: int
    answer: str


@dataclass(frozen=True)
class RecordFollowups:
    """The person's answer to 'do you want follow-ups?' for the session just finished."""

    session: int
    wanted: bool
    areas: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ForgetPerson:
    """Erase every row about the person (/delete), then send ``farewell`` directly: its row would
    be erased too, so it is the one message that is never a scheduled_messages row."""

    farewell: Message


@dataclass(frozen=True)
class ShowProgress:
    """Send the /progress reply here: the service reads the person's rounds and writes the summary
    and the chart (or a friendly note when nothing is rated yet), since only it can see the database."""


@dataclass(frozen=True)
class ShowStreak:
    """After a session: a line about the streak (days in a row, sessions this week). The service
    writes it, since only it can read the rounds (see bot/domain/streak.py)."""


Effect = (
    Reply
    | Toast
    | Schedule
    | Cancel
    | SetProfile
    | SavePlan
    | DropPlan
    | RecordRound
    | RecordCheckin
    | RecordFollowups
    | ForgetPerson
    | ShowProgress
    | ShowStreak
)


def message_to_payload(message: Message) -> dict[str, object]:
    """A message as JSON-able data, for the scheduled_messages table."""
    payload: dict[str, object] = {
        "text": message.text,
        "buttons": [[{"label": b.label, "data": b.data} for b in row] for row in message.buttons],
    }
    if message.attachment is not None:
        payload["attachment"] = message.attachment
    if message.about_attachment:
        payload["about_attachment"] = message.about_attachment
    if message.ask_location:
        payload["ask_location"] = True
    if message.remove_keyboard:
        payload["remove_keyboard"] = True
    return payload


def message_from_payload(payload: dict[str, object]) -> Message:
    rows = payload.get("buttons") or []
    assert isinstance(rows, list)
    buttons = tuple(tuple(Button(label=str(b["label"]), data=str(b["data"])) for b in row) for row in rows)
    attachment = payload.get("attachment")
    return Message(
        text=str(payload["text"]),
        buttons=buttons,
        attachment=str(attachment) if attachment is not None else None,
        about_attachment=str(payload.get("about_attachment", "")),
        ask_location=bool(payload.get("ask_location", False)),
        remove_keyboard=bool(payload.get("remove_keyboard", False)),
    )
