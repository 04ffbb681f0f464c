"""Typed model of ``content/pictures.yaml``: the vector drawings of each body area.

A *view* is a simple body outline (the back, the front, the face, the inside of
the foot) made of shapes in its own coordinate box (``size``; x grows to the
right, y grows down; the box is 100 units wide, so a shape's position reads as
a percentage of the width). Each area picks a view, a ``frame`` (the part of
the view to show) and three kinds of marks: where knots usually sit, where to
place the tool, and zones to avoid. Where to place the tool, and the words of
that mark, depend on the tool the person chose: ``tools`` holds the marks of
each tool the area offers (the label names that tool), and ``place`` is the
fallback, worded for any tool. A shape with ``mirror: true`` is drawn on both
sides of the view's vertical centre line.

This module is pure data and words: drawing lives in :mod:`bot.pictures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from bot.domain.content import Content

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EllipseSpec(_Strict):
    """An ellipse: centre, the two radii, and a rotation in degrees (clockwise)."""

    center: Point
    radii: tuple[float, float]
    angle: float = 0.0

    @model_validator(mode="after")
    def _positive(self) -> EllipseSpec:
        if min(self.radii) <= 0:
            raise ValueError("radii must be positive")
        return self


class Shape(_Strict):
    """Exactly one of ``polygon``, ``ellipse`` or ``line`` (an open stroke ``width`` units wide)."""

    polygon: list[Point] | None = Field(default=None, min_length=3)
    ellipse: EllipseSpec | None = None
    line: list[Point] | None = Field(default=None, min_length=2)
    width: float = Field(default=0.6, gt=0, description="stroke width of a line, in view units")
    smooth: bool = Field(default=False, description="draw a smooth curve through the points")
    mirror: bool = Field(default=False, description="also draw it mirrored across the centre line")

    @model_validator(mode="after")
    def _one_kind(self) -> Shape:
        kinds = [k for k in ("polygon", "ellipse", "line") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a shape is exactly one of polygon, ellipse or line (got {kinds or 'none'})")
        return self

    def points(self) -> list[Point]:
        """Every point that defines the shape (for bounds checks and label anchors)."""
        if self.ellipse is not None:
            (cx, cy), (rx, ry) = self.ellipse.center, self.ellipse.radii
            r = max(rx, ry)
            return [(cx - r, cy - r), (cx + r, cy + r)]
        return list(self.polygon or self.line or [])


class Mark(_Strict):
    """One labelled mark on an area picture: a label and the shapes it names."""

    label: str = Field(min_length=1, max_length=40, description="drawn beside the picture; read aloud")
    shapes: list[Shape] = Field(min_length=1)
    side: Literal["left", "right"] | None = Field(default=None, description="where the label goes")


class View(_Strict):
    """A body outline to draw marks on."""

    name: str = Field(min_length=1, description="how the view is seen, e.g. 'seen from behind'")
    size: tuple[float, float]
    body: list[Shape] = Field(min_length=1, description="filled: together they make the silhouette")
    details: list[Shape] = Field(default_factory=list, description="thin lines: spine, bones, creases")


class ToolPlace(_Strict):
    """Where to place one tool on an area; the labels name that tool."""

    place: list[Mark] = Field(min_length=1)


class AreaPicture(_Strict):
    """The picture of one area."""

    view: str
    frame: tuple[float, float, float, float] = Field(description="x0, y0, x1, y1 of the view to show")
    knots: list[Mark] = Field(min_length=1)
    place: list[Mark] = Field(min_length=1, description="where to place any tool; words that name no tool")
    tools: dict[str, ToolPlace] = Field(
        default_factory=dict, description="by tool id: where to place that tool, in words that name it"
    )
    avoid: list[Mark] = Field(min_length=1)

    def place_for(self, tool: str | None) -> list[Mark]:
        """The marks of where to place ``tool`` (the tool-neutral ones if it has none of its own)."""
        own = self.tools.get(tool) if tool is not None else None
        return own.place if own is not None else self.place

    def for_tool(self, tool: str | None) -> AreaPicture:
        """The picture as drawn for ``tool``: its own place marks, no other tool's."""
        return self.model_copy(update={"place": self.place_for(tool), "tools": {}})

    def marks(self) -> list[tuple[str, Mark]]:
        """Every mark with its kind, in drawing order (avoid first, so the others sit on top).

        Only the tool-neutral place marks: call it on :meth:`for_tool` to get a tool's.
        """
        return [
            *(("avoid", m) for m in self.avoid),
            *(("knots", m) for m in self.knots),
            *(("place", m) for m in self.place),
        ]

    def all_marks(self) -> list[tuple[str, Mark]]:
        """:meth:`marks` and every tool's place marks (for checks that cover every drawing)."""
        return [
            *self.marks(),
            *(("tools." + tool + ".place", m) for tool, own in self.tools.items() for m in own.place),
        ]


class Pictures(_Strict):
    """Everything in ``content/pictures.yaml``."""

    version: int = Field(ge=1, description="bump to re-draw every picture; content changes do it anyway")
    views: dict[str, View] = Field(min_length=1)
    areas: dict[str, AreaPicture]

    @model_validator(mode="after")
    def _check(self) -> Pictures:
        for area_id, picture in self.areas.items():
            view = self.views.get(picture.view)
            if view is None:
                raise ValueError(f"pictures.areas.{area_id}.view: unknown view {picture.view!r}")
            x0, y0, x1, y1 = picture.frame
            width, height = view.size
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise ValueError(
                    f"pictures.areas.{area_id}.frame: must lie inside the view (0 0 {width} {height})"
                )
            for kind, mark in picture.all_marks():
                for shape in mark.shapes:
                    if not all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in shape.points()):
                        raise ValueError(
                            f"pictures.areas.{area_id}.{kind}: {mark.label!r} lies outside the frame"
                        )
        return self


def attachment_spec(area_id: str, tool_id: str | None = None) -> str:
    """The spec of the picture of an area for a tool: ``area:<id>:<tool>``; ``area:<id>`` for any tool."""
    return f"area:{area_id}:{tool_id}" if tool_id is not None else f"area:{area_id}"


def parse_spec_argument(argument: str) -> tuple[str, str | None]:
    """What follows ``area:`` in a spec → (area id, tool id or None)."""
    area_id, _, tool_id = argument.partition(":")
    return area_id, tool_id or None


def describe(content: Content, area_id: str, tool_id: str | None = None) -> str:
    """The picture drawn for ``tool_id`` in words, for the caption (screen readers read it aloud).

    Without a tool it describes the tool-neutral picture.
    """
    picture = content.pictures.areas[area_id].for_tool(tool_id)
    view = content.pictures.views[picture.view]

    def labels(marks: list[Mark]) -> str:
        return "; ".join(m.label for m in marks)

    tool = content.tool(tool_id).name.lower() if tool_id is not None else content.text("pictures.any_tool")
    return content.text(
        "pictures.caption",
        view=view.name,
        knots=labels(picture.knots),
        tool=tool,
        place=labels(picture.place),
        avoid=labels(picture.avoid),
    )
