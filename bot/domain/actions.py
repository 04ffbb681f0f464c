"""Button actions, typed, and the one codec between them and the wire (callback data).

A button's callback data is ``k1:<prompt>:<action>`` (:func:`bot.domain.events.encode_press`);
this module owns the ``<action>`` part. Each kind of action is an enum member (no fields) or a
frozen dataclass with a wire prefix and typed fields, in the manner of aiogram's
``CallbackData``: :func:`encode_action` packs one into its wire string and
:func:`decode_action` unpacks a wire string into a typed action, or into :class:`Unknown` for
anything the bot does not issue (a stale button from an older version, a forged one), with the
band it claims, so it is answered exactly as a foreign button of that band always was.

The wire strings are those the bot has always sent (buttons already in people's chats keep
working; tests/test_actions.py pins them). Nothing outside this module looks at an action's
characters: the conversation matches on the typed actions.

Decoding checks the form only (an ``int`` field is digits, a day is a real date); whether an id
or a number is one the content offers is for the handler of the question to say.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import ClassVar, cast

from bot.domain.plan import day_key, parse_day


class Band(Enum):
    """Which handler a press goes to, and whether its prompt must be the current question's."""

    QUESTION = "question"  # a button of the current question: an older one is stale
    PRIVACY = "privacy"  # /delete's confirmation: bound to its question, checked by bot.domain.privacy
    PLAN = "plan"  # out of band: the plan summary's and the reminders' buttons
    FOLLOWUP = "followup"  # out of band: follow-up messages and /reminders


# the family prefixes of the wire: an action nobody recognises is still told apart by these
PRIVACY_PREFIX = "priv:"
PLAN_PREFIX = "pl."
FOLLOWUP_PREFIX = "fu."
CHECK_ANSWERS = ("better", "same", "worse", "nerve")  # the answers to a next-day check


class Tap(Enum):
    """The buttons of a question that carry nothing but their meaning."""

    BEGIN = "begin"
    NONE = "none"  # screening: none of these apply
    SOME = "some"  # screening: one applies
    OTHER = "other"  # area: none of those
    FOUND = "found"
    CANT = "cant"
    SPOT = "spot"  # another spot
    FINISH = "finish"
    START = "start"
    CANCEL = "cancel"
    INTENSE = "intense"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    AGAIN = "again"
    YES = "yes"  # the warning-sign check
    NO = "no"
    LOCATION = "location"  # share location (where it can't be shared: a hint to type a city)
    TZ_OTHER = "tz:other"
    FOLLOWUPS_YES = "fu:yes"
    FOLLOWUPS_NO = "fu:no"
    PLAN_AREAS_DONE = "pa.done"
    EVERY_DAY = "pd:every"
    WEEKDAYS = "pd:weekdays"
    CHOOSE_DAYS = "pd:choose"
    PLAN_DAYS_DONE = "pw.done"

    @property
    def band(self) -> Band:
        return Band.QUESTION


class PrivacyTap(Enum):
    """The two buttons of /delete's confirmation."""

    DELETE = PRIVACY_PREFIX + "delete"
    KEEP = PRIVACY_PREFIX + "keep"

    @property
    def band(self) -> Band:
        return Band.PRIVACY


class PlanTap(Enum):
    """The plan summary's, the offer's and the reminders' buttons without fields."""

    NEW = PLAN_PREFIX + "new"
    CHANGE = PLAN_PREFIX + "change"
    STOP = PLAN_PREFIX + "stop"
    PAUSE = PLAN_PREFIX + "pause"
    OFF = PLAN_PREFIX + "off"
    RESUME = PLAN_PREFIX + "resume"
    KEEP = PLAN_PREFIX + "keep"

    @property
    def band(self) -> Band:
        return Band.PLAN


class FollowupTap(Enum):
    """Follow-up and /reminders buttons without fields."""

    OFF = FOLLOWUP_PREFIX + "off"
    ON = FOLLOWUP_PREFIX + "on"
    TZ = FOLLOWUP_PREFIX + "tz"
    HOURS = FOLLOWUP_PREFIX + "hours"
    QUIET = FOLLOWUP_PREFIX + "quiet"
    MASSAGE = FOLLOWUP_PREFIX + "massage"  # "start a session" under a next-day check

    @property
    def band(self) -> Band:
        return Band.FOLLOWUP


Fixed = Tap | PrivacyTap | PlanTap | FollowupTap
FIXED: tuple[type[Fixed], ...] = (Tap, PrivacyTap, PlanTap, FollowupTap)


class Fielded:
    """An action with fields: ``<prefix><field>:<field>...``.

    Fields are ``str``, ``int`` (digits) or ``date`` (``YYYYMMDD``), separated by ``:``; a wire
    string with another number of fields is not this action. A kind whose fields are written
    differently overrides :meth:`parts` and :meth:`from_parts`.
    """

    prefix: ClassVar[str]
    band: ClassVar[Band]
    ascii_only: ClassVar[bool] = False  # int fields in ASCII digits only

    def parts(self) -> list[str]:
        out = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out.append(day_key(value) if isinstance(value, date) else str(value))
        return out

    @classmethod
    def from_parts(cls, parts: list[str]) -> Fielded | None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        if len(parts) != len(fields):
            return None
        values: list[object] = []
        for f, raw in zip(fields, parts, strict=True):
            value: object | None = raw
            # field types are strings here (``from __future__ import annotations``)
            if f.type in ("int", int):
                value = _int(raw, ascii_only=cls.ascii_only)
            elif f.type in ("date", date):
                value = parse_day(raw)
            if value is None:
                return None
            values.append(value)
        made = cls(*values)
        return made if made.valid() else None

    def valid(self) -> bool:
        return True


def _int(raw: str, *, ascii_only: bool) -> int | None:
    if not raw.isdigit() or (ascii_only and not raw.isascii()):
        return None
    try:
        return int(raw)
    except ValueError:  # digits that are not decimal ("²")
        return None


@dataclass(frozen=True)
class Flag(Fielded):
    """Screening: this warning sign applies."""

    prefix: ClassVar[str] = "flag:"
    band: ClassVar[Band] = Band.QUESTION
    id: str


@dataclass(frozen=True)
class Area(Fielded):
    prefix: ClassVar[str] = "area:"
    band: ClassVar[Band] = Band.QUESTION
    id: str


@dataclass(frozen=True)
class Tool(Fielded):
    prefix: ClassVar[str] = "tool:"
    band: ClassVar[Band] = Band.QUESTION
    id: str


@dataclass(frozen=True)
class Technique(Fielded):
    prefix: ClassVar[str] = "tech:"
    band: ClassVar[Band] = Band.QUESTION
    id: str


@dataclass(frozen=True)
class HoldLength(Fielded):
    prefix: ClassVar[str] = "len:"
    band: ClassVar[Band] = Band.QUESTION
    seconds: int


@dataclass(frozen=True)
class Intensity(Fielded):
    """How the hold felt: ``light``, ``right`` or ``much`` (conversation.INTENSITIES)."""

    prefix: ClassVar[str] = "int:"
    band: ClassVar[Band] = Band.QUESTION
    level: str


@dataclass(frozen=True)
class Knot(Fielded):
    """How the knot feels now: ``softer``, ``same`` or ``worse`` (conversation.KNOT_FEELS)."""

    prefix: ClassVar[str] = "knot:"
    band: ClassVar[Band] = Band.QUESTION
    feel: str


@dataclass(frozen=True)
class TzChoice(Fielded):
    """The ``index``-th time zone of a close call (State.zones)."""

    prefix: ClassVar[str] = "tz:"
    band: ClassVar[Band] = Band.QUESTION
    index: int


@dataclass(frozen=True)
class PlanArea(Fielded):
    """Setting a plan up: tick or untick an area."""

    prefix: ClassVar[str] = "pa:"
    band: ClassVar[Band] = Band.QUESTION
    area: str


@dataclass(frozen=True)
class PlanWeekday(Fielded):
    """Setting a plan up: tick or untick a weekday (0 is Monday)."""

    prefix: ClassVar[str] = "pw:"
    band: ClassVar[Band] = Band.QUESTION
    day: int


@dataclass(frozen=True)
class PlanTime(Fielded):
    """Setting a plan up: the time of day, written ``HHMM`` on the wire."""

    prefix: ClassVar[str] = "pt:"
    band: ClassVar[Band] = Band.QUESTION
    hour: int
    minute: int

    def parts(self) -> list[str]:
        return [f"{self.hour:02d}{self.minute:02d}"]

    @classmethod
    def from_parts(cls, parts: list[str]) -> PlanTime | None:
        if len(parts) != 1 or len(parts[0]) != 4 or not (parts[0].isascii() and parts[0].isdigit()):
            return None
        return cls(int(parts[0][:2]), int(parts[0][2:]))

    @property
    def clock(self) -> str:
        """``07:30``, as the content's ``plan.time_choices`` write it."""
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True)
class PlanGo(Fielded):
    """A reminder's Start (of this area)."""

    prefix: ClassVar[str] = PLAN_PREFIX + "go:"
    band: ClassVar[Band] = Band.PLAN
    area: str


@dataclass(frozen=True)
class PlanSnooze(Fielded):
    """A reminder's Snooze, for the planned ``day``."""

    prefix: ClassVar[str] = PLAN_PREFIX + "snz:"
    band: ClassVar[Band] = Band.PLAN
    minutes: int
    day: date


@dataclass(frozen=True)
class PlanSkip(Fielded):
    """A reminder's Skip today, for the planned ``day``."""

    prefix: ClassVar[str] = PLAN_PREFIX + "skip:"
    band: ClassVar[Band] = Band.PLAN
    day: date


@dataclass(frozen=True)
class ReminderHour(Fielded):
    """/reminders: the hour of the next-day checks."""

    prefix: ClassVar[str] = FOLLOWUP_PREFIX + "hour:"
    band: ClassVar[Band] = Band.FOLLOWUP
    hour: int


@dataclass(frozen=True)
class CheckAnswer(Fielded):
    """The answer to the ``n``-th next-day check of a session's area (one of CHECK_ANSWERS)."""

    prefix: ClassVar[str] = FOLLOWUP_PREFIX + "chk:"
    band: ClassVar[Band] = Band.FOLLOWUP
    ascii_only: ClassVar[bool] = True
    session: int
    area: str
    n: int
    answer: str

    def valid(self) -> bool:
        return self.answer in CHECK_ANSWERS


@dataclass(frozen=True)
class Unknown:
    """Callback data of the right form whose action the bot does not issue (or no longer does).

    ``band`` is the family its prefix claims: a foreign ``fu.``/``pl.`` action is answered as
    a stale out-of-band button, a foreign ``priv:`` one never erases anything, any other is a
    button that does not fit the question.
    """

    raw: str
    band: Band


Action = (
    Tap
    | PrivacyTap
    | PlanTap
    | FollowupTap
    | Flag
    | Area
    | Tool
    | Technique
    | HoldLength
    | Intensity
    | Knot
    | TzChoice
    | PlanArea
    | PlanWeekday
    | PlanTime
    | PlanGo
    | PlanSnooze
    | PlanSkip
    | ReminderHour
    | CheckAnswer
    | Unknown
)

# the registry: every kind of action, and how the wire tells them apart
FIELDED: tuple[type[Fielded], ...] = (
    Flag,
    Area,
    Tool,
    Technique,
    HoldLength,
    Intensity,
    Knot,
    TzChoice,
    PlanArea,
    PlanWeekday,
    PlanTime,
    PlanGo,
    PlanSnooze,
    PlanSkip,
    ReminderHour,
    CheckAnswer,
)
_BY_WIRE: dict[str, Fixed] = {m.value: m for kind in FIXED for m in kind}
_BY_PREFIX: dict[str, type[Fielded]] = {k.prefix: k for k in FIELDED}
_BANDS = ((PRIVACY_PREFIX, Band.PRIVACY), (PLAN_PREFIX, Band.PLAN), (FOLLOWUP_PREFIX, Band.FOLLOWUP))


def encode_action(action: Action) -> str:
    """The wire string of ``action`` (an :class:`Unknown` is written back as it came)."""
    if isinstance(action, Enum):
        return str(action.value)
    if isinstance(action, Unknown):
        return action.raw
    return action.prefix + ":".join(action.parts())


def decode_action(raw: str) -> Action:
    """The typed action of a wire string; :class:`Unknown` if the bot never issues it."""
    fixed = _BY_WIRE.get(raw)
    if fixed is not None:
        return fixed
    head, sep, rest = raw.partition(":")
    kind = _BY_PREFIX.get(head + sep) if sep else None
    found = kind.from_parts(rest.split(":")) if kind is not None else None
    if found is not None:
        return cast(Action, found)  # every Fielded kind is a member of Action
    band = next((b for prefix, b in _BANDS if raw.startswith(prefix)), Band.QUESTION)
    return Unknown(raw, band)
