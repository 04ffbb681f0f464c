"""Local time for follow-ups: time zones, quiet hours and "tomorrow at 10", correct across DST.

Pure functions on aware datetimes. A time zone is an IANA name ("Europe/Berlin")
or a fixed offset written ``UTC+05:30``; quiet hours are a local window
``[quiet_start, quiet_end)`` that may wrap midnight (21 → 8).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.profile import Profile

OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_offset(text: str) -> str | None:
    """``"UTC+2"``, ``"+05:30"``, ``"gmt-8"`` → canonical ``"UTC+02:00"``; None if not an offset."""
    match = OFFSET.match(text.strip())
    if not match:
        stripped = text.strip().casefold()
        return "UTC+00:00" if stripped in ("utc", "gmt", "utc+0", "gmt+0", "z") else None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes not in (0, 15, 30, 45) or (hours == 14 and minutes):
        return None
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def zone(name: str) -> tzinfo:
    """The tzinfo for an IANA name or a ``UTC±HH:MM`` offset; raises ValueError if unknown."""
    if name.startswith("UTC") and len(name) == 9:
        sign = -1 if name[3] == "-" else 1
        delta = timedelta(hours=int(name[4:6]), minutes=int(name[7:9]))
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True


def local_at(day: date, hour: int, tz: tzinfo, minute: int = 0) -> datetime:
    """``hour``:``minute`` local on ``day`` as an aware UTC datetime.

    In a spring-forward gap (the hour does not exist) the time moves forward by
    the gap (02:00 → 03:00); in a fall-back overlap the first occurrence is used
    (PEP 495, ``fold=0``).
    """
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=tz, fold=0).astimezone(UTC)


def in_quiet_hours(moment: datetime, profile: Profile) -> bool:
    start, end = profile.quiet_start, profile.quiet_end
    if start == end:
        return False
    hour = moment.astimezone(zone(profile.tz or "UTC")).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def next_allowed(moment: datetime, profile: Profile) -> datetime:
    """``moment``, or the end of the quiet hours it falls into."""
    if not in_quiet_hours(moment, profile):
        return moment
    tz = zone(profile.tz or "UTC")
    local_day = moment.astimezone(tz).date()
    for offset in (0, 1):
        candidate = local_at(local_day + timedelta(days=offset), profile.quiet_end, tz)
        if candidate > moment and not in_quiet_hours(candidate, profile):
            return candidate
    raise AssertionError("quiet hours never end")  # pragma: no cover - start != end guarantees an end


def days_later_at(now: datetime, days: int, profile: Profile) -> datetime:
    """``days`` local days after ``now``'s local date, at the profile's hour, out of quiet hours."""
    tz = zone(profile.tz or "UTC")
    day = now.astimezone(tz).date() + timedelta(days=days)
    return next_allowed(local_at(day, profile.hour, tz), profile)


def local_clock(moment: datetime, profile: Profile) -> str:
    """``14:05`` in the person's time zone."""
    return moment.astimezone(zone(profile.tz or "UTC")).strftime("%H:%M")
