"""Where on Earth → which time zone, offline (timezonefinder ships its own data).

A shared location is used once to find the time zone and is never stored.
The finder loads lazily: most updates never need it.
"""

from __future__ import annotations

from functools import cache

from timezonefinder import TimezoneFinder


@cache
def _finder() -> TimezoneFinder:
    return TimezoneFinder()


def timezone_at(latitude: float, longitude: float) -> str | None:
    """The IANA zone at a point; None at sea or for impossible coordinates."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return None
    name = _finder().timezone_at(lng=longitude, lat=latitude)
    if name is None or name.startswith("Etc/"):
        return None
    return str(name)
