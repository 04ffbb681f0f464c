"""Find a time zone from what a person types: a city, an IANA zone name or a UTC offset.

Cities come from two places: the city part of every IANA zone name
("America/New_York" → "New York") and the extra list in ``content/followups.yaml``
("Munich" → Europe/Berlin). Typos are rapidfuzz's job. Like the body-area
matcher, the outcome is confident, a close call (2-3 candidates) or nothing.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.domain.timing import parse_offset

CONFIDENT = 90.0
CANDIDATE = 75.0
MARGIN = 6.0
MAX_CANDIDATES = 3  # a close call offers at most this many zones (one button each)
SKIPPED_PREFIXES = ("Etc/", "SystemV/", "US/", "posix", "right/", "Canada/", "Brazil/", "Chile/", "Mexico/")
FILLER = re.compile(r"\b(i live in|i am in|i m in|im in|near|in|the|city of|my city is)\b")


@dataclass(frozen=True)
class ZoneChoice:
    label: str  # what the person sees: "Berlin (Europe/Berlin)"
    zone: str


@dataclass(frozen=True)
class ZoneMatch:
    zone: str | None
    label: str | None
    candidates: tuple[ZoneChoice, ...] = ()


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^a-z0-9+\-: ]+", " ", text.replace("_", " ").replace("/", " "))
    text = FILLER.sub(" ", text)
    return " ".join(text.split())


def zone_names() -> list[str]:
    """IANA zone names worth offering (no legacy aliases such as US/Eastern)."""
    return sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(SKIPPED_PREFIXES)
    )


class ZoneMatcher:
    """Matches typed text to a time zone; build once, match many times."""

    def __init__(self, cities: dict[str, str], zones: Iterable[str] | None = None) -> None:
        names: dict[str, ZoneChoice] = {}
        for name in zones if zones is not None else zone_names():
            city = name.rsplit("/", 1)[-1].replace("_", " ")
            names.setdefault(_normal(city), ZoneChoice(f"{city} ({name})", name))
            names.setdefault(_normal(name), ZoneChoice(name, name))
        for city, name in cities.items():
            names[_normal(city)] = ZoneChoice(f"{city} ({name})", name)
        self._choices = names
        self._keys = list(names)

    def match(self, text: str) -> ZoneMatch:
        offset = parse_offset(text)
        if offset is not None:
            return ZoneMatch(zone=offset, label=offset)
        query = _normal(text)
        if not query:
            return ZoneMatch(zone=None, label=None)
        exact = self._choices.get(query)
        if exact is not None:
            return ZoneMatch(zone=exact.zone, label=exact.label)
        found = process.extract(query, self._keys, scorer=fuzz.ratio, limit=8, score_cutoff=CANDIDATE)
        best: dict[str, tuple[float, ZoneChoice]] = {}
        for key, score, _ in found:
            choice = self._choices[key]
            if choice.zone not in best or best[choice.zone][0] < score:
                best[choice.zone] = (score, choice)
        ranked = sorted(best.values(), key=lambda item: -item[0])
        if not ranked:
            return ZoneMatch(zone=None, label=None)
        top_score, top = ranked[0]
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        if top_score >= CONFIDENT and top_score - runner_up >= MARGIN:
            return ZoneMatch(zone=top.zone, label=top.label)
        return ZoneMatch(
            zone=None, label=None, candidates=tuple(choice for _, choice in ranked[:MAX_CANDIDATES])
        )
