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

    def advance(self, step: Step, **changes: Any) -> State:
        """Move to a new question: the step changes and old buttons go stale."""
        return replace(self, step=step, prompt=self.prompt + 1, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["step"] = self.step.value
        data["candidates"] = list(self.candidates)
        data["areas_done"] = list(self.areas_done)
        data["zones"] = list(self.zones)
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
            for name in ("candidates", "areas_done", "zones"):
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
        for name in ("area", "tool", "technique", "intensity", "knot", "check", "then"):
            if not isinstance(getattr(self, name), str | None):
                raise TypeError(name)
        if not (self.hold_seconds is None or _is_int(self.hold_seconds)):
            raise TypeError("hold_seconds")
        ends = self.hold_ends_at
        if not (ends is None or (isinstance(ends, int | float) and not isinstance(ends, bool))):
            raise TypeError("hold_ends_at")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
