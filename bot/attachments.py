"""Pictures and files that go with a message, rendered when the message is sent.

A message names its attachment with a short spec (``"area:upper_back:ball"``,
``"progress"``, ``"mydata"``); the spec is stored in the scheduled_messages row
and a renderer registered for its prefix turns it into bytes at send time, so
a chart or an export always shows the data as it is when it is sent. The
renderer gets everything after the first ``:`` (``"upper_back:ball"``).

Telegram's ``file_id`` is reused by :attr:`Rendered.cache_key`, so a renderer
that sets one must make it cover the whole spec (and what is drawn): two specs
that show different things must never share a key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Rendered:
    """Bytes ready to send. ``cache_key`` is set when the bytes never change for that key,
    so Telegram's ``file_id`` from the first upload can be reused."""

    kind: Literal["photo", "document"]
    filename: str
    data: bytes
    cache_key: str | None = None


Renderer = Callable[[int, str], Awaitable[Rendered]]
"""``await renderer(person_id, argument)``: the argument is everything after ``prefix:`` in the spec
(it may hold more ``:``)."""


class UnknownAttachment(KeyError):
    """No renderer is registered for the spec's prefix."""


class Attachments:
    """The registry of renderers, by spec prefix."""

    def __init__(self) -> None:
        self._renderers: dict[str, Renderer] = {}

    def register(self, prefix: str, renderer: Renderer) -> None:
        if prefix in self._renderers:
            raise ValueError(f"a renderer for {prefix!r} is already registered")
        self._renderers[prefix] = renderer

    async def render(self, person_id: int, spec: str) -> Rendered:
        prefix, _, argument = spec.partition(":")
        renderer = self._renderers.get(prefix)
        if renderer is None:
            raise UnknownAttachment(spec)
        return await renderer(person_id, argument)
