"""Read the YAML files in ``content/`` into a validated :class:`Content`.

Each file holds some top-level fields of :class:`~bot.domain.content.Content`;
``strings_*.yaml`` files add more user-facing strings (one file per feature).
A mistake is reported as one :class:`ContentError` naming the file and the key,
so that ``knotbot content check`` and start-up can print one clear line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain.content import Content

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

# which file holds which top-level field of Content
FILES: dict[str, tuple[str, ...]] = {
    "areas.yaml": ("areas",),
    "tools.yaml": ("tools", "techniques"),
    "screening.yaml": ("severities", "red_flags"),
    "session.yaml": ("session",),
    "followups.yaml": ("followups", "cities"),
    "plan.yaml": ("plan",),
    "strings.yaml": ("strings",),
    "aliases.yaml": ("aliases", "other_parts", "regions"),
    "warning_phrases.yaml": ("warning_phrases",),
    "understanding.yaml": ("understanding",),
    "pictures.yaml": ("pictures",),
}
OPTIONAL_FILES = frozenset({"aliases.yaml", "warning_phrases.yaml"})


class ContentError(Exception):
    """Content is missing or invalid; the message names the file and key."""


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path.name}: expected a mapping at the top level")
    return data


def load_content(directory: Path | None = None) -> Content:
    """Load and validate every content file in ``directory``."""
    directory = directory or DEFAULT_CONTENT_DIR
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, fields in FILES.items():
        path = directory / name
        if not path.exists():
            if name in OPTIONAL_FILES:
                continue
            raise ContentError(f"{name}: file missing in {directory}")
        data = _read(path)
        for key in data:
            if key not in fields:
                raise ContentError(f"{name}: unexpected top-level key {key!r} (expected {', '.join(fields)})")
        for key in fields:
            if key in data:
                merged[key] = data[key]
                origin[key] = name
    for path in sorted(directory.glob("strings_*.yaml")):
        extra = _read(path)
        if set(extra) != {"strings"} or not isinstance(extra["strings"], dict):
            raise ContentError(f"{path.name}: expected only a top-level 'strings' mapping")
        strings = merged.setdefault("strings", {})
        for key, value in extra["strings"].items():
            if key in strings:
                raise ContentError(f"{path.name}: strings.{key}: already defined in {origin['strings']}")
            strings[key] = value
    try:
        return Content.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        message = str(err["msg"]).removeprefix("Value error, ")
        if not loc:
            # a cross-check names its own key path: "areas.neck.tools: unknown tool 'x'"
            key_path, sep, rest = message.partition(": ")
            if sep and key_path.split(".", 1)[0] in origin:
                loc, message = key_path.split("."), rest
        where = origin.get(loc[0], "content") if loc else "content"
        key = ".".join(loc) or "(root)"
        raise ContentError(f"{where}: {key}: {message}") from exc
