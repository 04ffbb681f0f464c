"""Typed model of everything the bot knows and says, loaded from ``content/``.

The YAML files in ``content/`` are validated into these pydantic models at
start-up (see :mod:`bot.content_loader`). The domain core reads only these
models, so every area, tool, technique, warning sign and user-facing string is
data, never code.
"""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.pictures import Pictures

AREA_IDS: tuple[str, ...] = (
    "neck",
    "upper_traps",
    "upper_back",
    "shoulder",
    "chest",
    "forearm",
    "lower_back",
    "glutes",
    "hamstrings",
    "quads",
    "outer_thigh",
    "calves",
    "feet",
    "jaw",
)


class Strict(BaseModel):
    """Base for content models: unknown keys are errors, objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(StrEnum):
    """How urgently a warning sign sends the person to help."""

    EMERGENCY = "emergency"  # call the local emergency number now
    URGENT = "urgent"  # see a doctor today
    PROFESSIONAL = "professional"  # book a physical therapist or physician
    ASK_FIRST = "ask_first"  # ask a clinician before deep pressure
    AVOID_SPOT = "avoid_spot"  # don't work on this spot; another area is fine


class ToolSetup(Strict):
    """How to set up one tool on one area."""

    tool: str
    setup: str = Field(min_length=1)


class Area(Strict):
    """A body area the bot can coach, with where to work and where not to."""

    id: str
    name: str = Field(min_length=1)
    where: str = Field(min_length=1, description="short plain description of the area")
    muscles: list[str] = Field(min_length=1)
    knots_sit: str = Field(min_length=1)
    avoid: list[str] = Field(min_length=1)
    tools: list[ToolSetup] = Field(min_length=1, description="recommended first")
    stretch: str = Field(min_length=1)
    next_to: list[str] = Field(
        default_factory=list, description="areas that border this one (a rash on one may reach the other)"
    )


class Tool(Strict):
    """A massage tool (fingers, ball, foam roller, ...)."""

    id: str
    name: str = Field(min_length=1)
    why: str = Field(min_length=1)


class Technique(Strict):
    """A self-massage technique (static pressure or stripping)."""

    id: str
    name: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    recommended: bool = False


class RedFlag(Strict):
    """A warning sign asked about at screening and looked for in free text."""

    id: str
    label: str = Field(min_length=1, max_length=60, description="button text")
    description: str = Field(min_length=1, description="line in the screening list")
    severity: Severity
    reply: str = Field(min_length=1, description="why and what to do")
    question: str = Field(
        min_length=1, description="one plain yes/no question asked when free text only possibly names it"
    )
    for_others: bool = Field(
        default=False,
        description="someone else's, right now, still gets the advice (an emergency a bystander sees)",
    )
    place: bool = Field(
        default=False,
        description="the sign is a place (a zone to avoid), not something at the knot's spot such as a cut",
    )


class HoldPrompt(Strict):
    """One timed prompt during a hold, at a fraction of the hold's length."""

    at: float = Field(ge=0.0, le=1.0)
    text: str = Field(min_length=1)
    techniques: list[str] = Field(default_factory=list, description="empty: every technique")


class SessionRules(Strict):
    """Numbers that shape a session."""

    hold_seconds: list[int] = Field(min_length=1)
    max_rounds: int = Field(ge=1)
    prompt_late_after_seconds: float = Field(gt=0, description="a prompt later than this is dropped")
    prompts: list[HoldPrompt] = Field(min_length=1)
    stripping_stroke_seconds: int = Field(gt=0)
    get_ready_seconds: int = Field(ge=0, description="after Start, before the first prompt")
    countdown_from: int = Field(ge=0, description="3: '3…', '2…', '1…' in the last seconds of the get-ready")

    @model_validator(mode="after")
    def _countdown(self) -> SessionRules:
        if self.countdown_from > self.get_ready_seconds:
            raise ValueError("session.countdown_from: at most get_ready_seconds")
        return self


class FollowupRules(Strict):
    """When follow-ups are sent and when a repeated "about the same" leads to a referral."""

    hydration_after_minutes: int = Field(gt=0)
    hydration_useful_for_minutes: int = Field(gt=0)
    late_wording_after_minutes: int = Field(gt=0, description="later than this, a follow-up says so")
    check_hour: int = Field(ge=0, le=23)
    hour_choices: list[int] = Field(min_length=1)
    repeat_after_days: int = Field(ge=1)
    same_answers_before_referral: int = Field(ge=1)
    quiet_start: int = Field(ge=0, le=23)
    quiet_end: int = Field(ge=0, le=23)

    @model_validator(mode="after")
    def _hours(self) -> FollowupRules:
        if any(not 0 <= h <= 23 for h in self.hour_choices):
            raise ValueError("followups.hour_choices: hours are 0 to 23")
        return self


class PlanRules(Strict):
    """A practice plan: the times offered, snoozes, when to offer a pause (docs/plan.md)."""

    session_minutes: int = Field(ge=1, description="said in the reminder: 'your 5-minute ... session'")
    time_choices: list[str] = Field(min_length=1, description="local times offered as buttons, HH:MM")
    snooze_minutes: list[int] = Field(min_length=1)
    ignored_before_pause_offer: int = Field(ge=1, description="ignored reminders in a row, then one offer")
    reminder_useful_for_minutes: int = Field(gt=0, description="a reminder later than this is dropped")

    @model_validator(mode="after")
    def _times(self) -> PlanRules:
        for clock in self.time_choices:
            hour, _, minute = clock.partition(":")
            if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
                raise ValueError(f"plan.time_choices: {clock!r} is not HH:MM")
        return self


class WarningPattern(Strict):
    """A warning phrase: every group must match, any term within a group."""

    all_of: list[list[str]] = Field(min_length=1)
    muscle_ambiguous: bool = Field(
        default=False, description="with muscle or workout words around, only possible: ask, don't stop"
    )
    ask_only: bool = Field(default=False, description="points at the sign without stating it: always ask")
    landmark_ambiguous: bool = Field(
        default=False, description="after a locator ('just above the back of my knee'): only possible"
    )
    ambiguous_with: list[str] = Field(
        default_factory=list,
        description="with one of these everyday causes around ('numb bum from sitting'), only possible: ask",
    )
    lasting: bool = Field(
        default=False,
        description="a history of it counts ('had cancer 5 years ago'); others are over when long past",
    )


class Cues(Strict):
    """Cue phrases that act on a mention from before it or after it."""

    before: list[str] = Field(min_length=1)
    after: list[str] = Field(min_length=1)


class CancelledCues(Strict):
    """A double negation: ``cues`` after one of ``by`` in their clause deny nothing ("I can't take
    a deep breath without my chest hurting" states the chest pain)."""

    cues: list[str] = Field(default_factory=list)
    by: list[str] = Field(default_factory=list)


class NegationCues(Cues):
    """NegEx negation triggers, and pseudo-triggers that look like one but are not."""

    pseudo: list[str] = Field(default_factory=list)
    inability: list[str] = Field(
        default_factory=list, description='"not able to", "haven\'t been able to": read as "cant"'
    )
    cancelled: CancelledCues = Field(default_factory=CancelledCues)
    after_all: list[str] = Field(
        default_factory=list,
        description='"none of those", "nope to all": deny the whole list or sentence before them',
    )


class ObjectCues(Strict):
    """Things whose falling, snapping or breaking is no sign ("my phone fell"), for ``signs`` only."""

    signs: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)


class Durations(Strict):
    """A count before a time unit ("for 6 weeks") is read as the unit alone ("for weeks")."""

    counts: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)


class Understanding(Strict):
    """How free text around a warning phrase is read: denied, only possible, or stated."""

    window: int = Field(ge=1, le=12, description="words a cue before a mention reaches")
    after_window: int = Field(ge=1, le=12, description="words a cue after a mention reaches back")
    negation: NegationCues
    hedges: Cues
    terminators: list[str] = Field(min_length=1)
    others: list[str] = Field(default_factory=list, description="someone else: their condition")
    fiction: list[str] = Field(
        default_factory=list, description='a story, film, game or song: no one real ("my character")'
    )
    first_person: list[str] = Field(default_factory=list, description='the person: "i", "me" end a fiction')
    historical: list[str] = Field(
        default_factory=list, description='long past, for the whole clause: "as a teenager", "years ago"'
    )
    present: list[str] = Field(
        default_factory=list, description='now, in the same clause: "again", "still" (not long past)'
    )
    described_nouns: list[str] = Field(
        default_factory=list,
        description='a warning word right before one of these describes it: "hot bath", "cancer research"',
    )
    reporting: list[str] = Field(default_factory=list, description="someone else reports the person's")
    their: list[str] = Field(
        default_factory=list, description='after a reporting verb, the other person\'s own: "she has"'
    )
    objects: ObjectCues = Field(default_factory=lambda: ObjectCues())
    acted_on: list[str] = Field(
        default_factory=list, description='the person, acted on by someone else: "headbutted me"'
    )
    cue_tails: list[str] = Field(default_factory=list, description="may follow an after-cue that ends")
    resuming: list[str] = Field(default_factory=list, description="may stand before an after-cue")
    past: list[str] = Field(default_factory=list, description="someone else's condition was in the past")
    clause_starts: list[str] = Field(default_factory=list)
    locators: list[str] = Field(default_factory=list)
    muscle_words: list[str] = Field(default_factory=list)
    muscle_context: list[str] = Field(default_factory=list)
    directions: list[str] = Field(default_factory=list)
    idioms: dict[str, str] = Field(
        default_factory=dict, description="phrase -> plain words, read before anything else"
    )
    gradable: list[str] = Field(
        default_factory=list, description='symptom words whose comparatives ("redder") read as the word'
    )
    durations: Durations = Field(default_factory=Durations)

    @model_validator(mode="after")
    def _one_meaning_per_cue(self) -> Understanding:
        families = {
            "negation": [*self.negation.before, *self.negation.after],
            "negation.pseudo": self.negation.pseudo,
            "hedges": [*self.hedges.before, *self.hedges.after],
            "terminators": self.terminators,
            "others": self.others,
        }
        seen: dict[str, str] = {}
        for family, phrases in families.items():
            for phrase in phrases:
                key = " ".join(phrase.casefold().split())
                if not key:
                    raise ValueError(f"understanding.{family}: an empty cue")
                if seen.setdefault(key, family) != family:
                    raise ValueError(f"understanding.{family}: {phrase!r} is already a cue in {seen[key]}")
        return self


class Content(Strict):
    """Everything in ``content/``, cross-checked."""

    areas: list[Area]
    tools: list[Tool]
    techniques: list[Technique]
    red_flags: list[RedFlag]
    severities: dict[Severity, str]
    session: SessionRules
    followups: FollowupRules
    plan: PlanRules
    cities: dict[str, str] = Field(default_factory=dict, description="city name -> IANA zone")
    strings: dict[str, str]
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    other_parts: list[str] = Field(default_factory=list, description="body parts that are no area here")
    regions: dict[str, list[str]] = Field(
        default_factory=dict, description='a larger part and the areas in it: "legs" holds the calves'
    )
    warning_phrases: dict[str, list[WarningPattern]] = Field(default_factory=dict)
    understanding: Understanding
    pictures: Pictures

    @model_validator(mode="after")
    def _cross_check(self) -> Content:
        area_ids = [a.id for a in self.areas]
        if tuple(sorted(area_ids)) != tuple(sorted(AREA_IDS)):
            missing = sorted(set(AREA_IDS) - set(area_ids))
            extra = sorted(set(area_ids) - set(AREA_IDS))
            raise ValueError(f"areas: ids must be exactly the catalogue (missing {missing}, unknown {extra})")
        neighbours = {a.id: set(a.next_to) for a in self.areas}
        for area_id, near in neighbours.items():
            for other in sorted(near):
                if other not in neighbours or other == area_id:
                    raise ValueError(f"areas.{area_id}.next_to: unknown area {other!r}")
                if area_id not in neighbours[other]:
                    raise ValueError(f"areas.{area_id}.next_to: {other!r} must list {area_id!r} too")
        tool_ids = {t.id for t in self.tools}
        for area in self.areas:
            for setup in area.tools:
                if setup.tool not in tool_ids:
                    raise ValueError(f"areas.{area.id}.tools: unknown tool {setup.tool!r}")
        technique_ids = {t.id for t in self.techniques}
        for prompt in self.session.prompts:
            for tech in prompt.techniques:
                if tech not in technique_ids:
                    raise ValueError(f"session.prompts: unknown technique {tech!r}")
        if sum(t.recommended for t in self.techniques) != 1:
            raise ValueError("techniques: exactly one must be recommended")
        flag_ids = {f.id for f in self.red_flags}
        if len(flag_ids) != len(self.red_flags):
            raise ValueError("red_flags: ids must be unique")
        for sev in Severity:
            if sev not in self.severities:
                raise ValueError(f"severities: missing {sev.value!r}")
        for area_id in self.aliases:
            if area_id not in AREA_IDS:
                raise ValueError(f"aliases.{area_id}: unknown area")
        for region, inside in self.regions.items():
            for area_id in inside:
                if area_id not in AREA_IDS:
                    raise ValueError(f"regions.{region}: unknown area {area_id!r}")
        for city, zone in self.cities.items():
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"cities.{city}: unknown time zone {zone!r}") from exc
        for flag_id in self.warning_phrases:
            if flag_id not in flag_ids:
                raise ValueError(f"warning_phrases.{flag_id}: unknown warning sign")
        if set(self.pictures.areas) != set(AREA_IDS):
            missing = sorted(set(AREA_IDS) - set(self.pictures.areas))
            extra = sorted(set(self.pictures.areas) - set(AREA_IDS))
            raise ValueError(f"pictures.areas: one picture per area (missing {missing}, unknown {extra})")
        return self

    # -- look-ups -------------------------------------------------------------

    def area(self, area_id: str) -> Area:
        for a in self.areas:
            if a.id == area_id:
                return a
        raise KeyError(area_id)

    def tool(self, tool_id: str) -> Tool:
        for t in self.tools:
            if t.id == tool_id:
                return t
        raise KeyError(tool_id)

    def technique(self, technique_id: str) -> Technique:
        for t in self.techniques:
            if t.id == technique_id:
                return t
        raise KeyError(technique_id)

    def red_flag(self, flag_id: str) -> RedFlag:
        for f in self.red_flags:
            if f.id == flag_id:
                return f
        raise KeyError(flag_id)

    def recommended_technique(self) -> Technique:
        return next(t for t in self.techniques if t.recommended)

    def text(self, key: str, **params: Any) -> str:
        """The user-facing string ``key`` with its ``{placeholders}`` filled in."""
        return self.strings[key].format(**params)


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a string template expects."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
