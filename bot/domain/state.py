"""The per-person conversation state, stored as JSON in the database."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any


class Step(StrEnum):
    """Where a person is in the conversation: what the bot is waiting for."""

    IDLE = "idle"  # no session running
    SCREENING = "screening"  # warning-sign list shown: none of these / one applies
    SCREENING_PICK = "screening_pick"  # which warning sign applies
    AREA = "area"  # where is the knot?
    AREA_CONFIRM = "area_confirm"  # did you mean ...?
    LOCATE = "locate"  # found it / can't find it
    TOOL = "tool"  # which tool
    TECHNIQUE = "technique"  # static pressure or stripping
    HOLD_LENGTH = "hold_length"  # 30 / 45 / 60 s
    HOLD_READY = "hold_ready"  # tap Start
    HOLDING = "holding"  # timed prompts running; then the intensity question
    RATE_KNOT = "rate_knot"  # softer / same / worse
    NEXT = "next"  # another round / another spot / finish
    FOLLOWUP = "followup"  # follow-ups yes / no
    TZ_ASK = "tz_ask"  # share location, or type a city or UTC offset
    TZ_CONFIRM = "tz_confirm"  # did you mean this time zone?
    WARNING_CHECK = "warning_check"  # free text only possibly named a warning sign: yes / no
    PLAN_AREAS = "plan_areas"  # /plan: which areas (toggles, then Done)
    PLAN_DAYS = "plan_days"  # every day / weekdays / choose days
    PLAN_WEEKDAYS = "plan_weekdays"  # which days (toggles, then Done)
    PLAN_TIME = "plan_time"  # a local time: buttons, or typed "19:30"


@dataclass(frozen=True)
class State:
    """Everything the core needs to remember between two updates from one person."""

    step: Step = Step.IDLE
    prompt: int = 0  # number of the current question; buttons carry it
    session: int = 0  # sessions started so far
    area: str | None = None
    candidates: tuple[str, ...] = ()
    locate_tries: int = 0
    tool: str | None = None
    technique: str | None = None
    hold_seconds: int | None = None
    hold_ends_at: float | None = None  # epoch seconds, scaled
    hold_left: float | None = None  # a paused hold: its seconds still to go (unscaled)
    round: int = 0  # rounds done on the current area
    intensity: str | None = None  # last round: too light / just right / too much
    knot: str | None = None  # last round: softer / same / worse
    areas_done: tuple[str, ...] = field(default_factory=tuple)
    zones: tuple[
        str, ...
    ] = ()  # time-zone candidates of a close call, as shown: "Atlanta (America/New_York)"
    check: str | None = None  # WARNING_CHECK: the warning sign asked about
    back: Step | None = None  # WARNING_CHECK: the step to go back to after "No"
    then: str | None = None  # WARNING_CHECK: a stated, less urgent sign that applies after "No"
    picked: tuple[str, ...] = ()  # /plan being set up: the areas chosen so far
    weekdays: tuple[int, ...] = ()  # /plan being set up: the days (0 is Monday)
    plan_minute: int | None = None  # /plan being set up: the time, in minutes after local midnight
    planned: str | None = None  # a session started from a plan reminder: its area, after screening

    def advance(self, step: Step, **changes: Any) -> State:
        """Move to a new question: the step changes and old buttons go stale."""
        return replace(self, step=step, prompt=self.prompt + 1, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["step"] = self.step.value
        data["candidates"] = list(self.candidates)
        data["areas_done"] = list(self.areas_done)
        data["zones"] = list(self.zones)
        data["picked"] = list(self.picked)
        data["weekdays"] = list(self.weekdays)
        data["back"] = None if self.back is None else self.back.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> State:
        """Rebuild a state; unknown keys are ignored and bad values fall back to a fresh start."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            kwargs["step"] = Step(kwargs.get("step", Step.IDLE))
            if kwargs.get("back") is not None:
                kwargs["back"] = Step(kwargs["back"])
            days = kwargs.get("weekdays", ())
            if not isinstance(days, list | tuple) or not all(_is_int(d) and 0 <= d <= 6 for d in days):
                raise TypeError("weekdays")
            kwargs["weekdays"] = tuple(days)
            for name in ("candidates", "areas_done", "zones", "picked"):
                value = kwargs.get(name, ())
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise TypeError(name)
                kwargs[name] = tuple(value)
            state = cls(**kwargs)
            state._check_types()
            return state
        except (ValueError, TypeError):
            # stored state we cannot trust: start afresh, keeping the counters if they are sound
            return cls(prompt=_int_or(data.get("prompt"), 0) + 1, session=_int_or(data.get("session"), 0))

    def _check_types(self) -> None:
        for name in ("prompt", "session", "locate_tries", "round"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise TypeError(name)
        for name in ("area", "tool", "technique", "intensity", "knot", "check", "then", "planned"):
            if not isinstance(getattr(self, name), str | None):
                raise TypeError(name)
        if not (self.plan_minute is None or (_is_int(self.plan_minute) and 0 <= self.plan_minute < 1440)):
            raise TypeError("plan_minute")
        if not (self.hold_seconds is None or _is_int(self.hold_seconds)):
            raise TypeError("hold_seconds")
        left = self.hold_left
        if not (left is None or (isinstance(left, int | float) and not isinstance(left, bool) and left >= 0)):
            raise TypeError("hold_left")
        ends = self.hold_ends_at
        if not (ends is None or (isinstance(ends, int | float) and not isinstance(ends, bool))):
            raise TypeError("hold_ends_at")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
