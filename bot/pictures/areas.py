"""The picture of one body area: where knots usually sit, where to place the tool, where not to press.

Drawn from the shapes in ``content/pictures.yaml``: the view's body outline is
zoomed to the area's frame in the middle panel, the marks go on top, each mark's
label sits in the margin beside the panel with a leader line to its shape, and
a legend along the bottom explains the three kinds of mark. Where to place the
tool, and its label, are the chosen tool's (``AreaPicture.for_tool``). The result
is an 800 px wide PNG; its cache key names the area and the tool and changes
whenever anything that is drawn changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

from bot.domain.content import Content
from bot.domain.pictures import AreaPicture, Mark, Point, Shape, View, attachment_spec
from bot.pictures.draw import (
    AVOID_EDGE,
    AVOID_FILL,
    AVOID_TEXT,
    DETAIL,
    INK,
    KNOT_EDGE,
    KNOT_FILL,
    KNOT_TEXT,
    PANEL,
    PLACE_EDGE,
    PLACE_TEXT,
    SCALE,
    SKIN,
    SKIN_EDGE,
    WIDTH,
    Colour,
    canvas,
    centroid,
    outlines,
    text_width,
    to_png,
    wrap,
    write,
)

RENDERER_VERSION = 1  # bump when this drawing code changes what a picture looks like
HEIGHT = 760
TITLE_SIZE, LABEL_SIZE, LEGEND_SIZE = 30, 20, 21
LABEL_LINE = 24  # line height of a label, final pixels
GUTTER = 196  # width of the label margins on each side of the panel
PANEL_TOP, PANEL_HEIGHT = 78, 560
PANEL_LEFT, PANEL_RIGHT = GUTTER, WIDTH - GUTTER
LEGEND_TOP = PANEL_TOP + PANEL_HEIGHT + 18
TEXT_COLOUR: dict[str, Colour] = {"knots": KNOT_TEXT, "place": PLACE_TEXT, "avoid": AVOID_TEXT}


def cache_key(content: Content, area_id: str, tool_id: str | None = None) -> str:
    """The spec and a hash of every shape, word and drawing rule in the picture drawn for the tool.

    ``area:<id>:<tool>:<hash>`` (``area:<id>:<hash>`` without a tool), so Telegram's ``file_id`` of
    one tool's picture is never reused for another's.
    """
    picture = content.pictures.areas[area_id].for_tool(tool_id)
    drawn = {
        "renderer": RENDERER_VERSION,
        "version": content.pictures.version,
        "view": content.pictures.views[picture.view].model_dump(mode="json"),
        "picture": picture.model_dump(mode="json"),
        "words": _words(content, area_id),
    }
    digest = hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:16]
    return f"{attachment_spec(area_id, tool_id)}:{digest}"


def _words(content: Content, area_id: str) -> list[str]:
    picture = content.pictures.areas[area_id]
    view = content.pictures.views[picture.view]
    t = content.text
    return [
        t("pictures.title", area=content.area(area_id).name, view=view.name),
        t("pictures.legend_knots"),
        t("pictures.legend_place"),
        t("pictures.legend_avoid"),
    ]


@dataclass(frozen=True)
class _Frame:
    """Maps view units to final-pixel coordinates inside the panel."""

    scale: float
    dx: float
    dy: float

    @classmethod
    def fit(cls, frame: tuple[float, float, float, float]) -> _Frame:
        x0, y0, x1, y1 = frame
        width, height = PANEL_RIGHT - PANEL_LEFT, PANEL_HEIGHT
        scale = min(width / (x1 - x0), height / (y1 - y0)) * 0.92
        dx = PANEL_LEFT + width / 2 - scale * (x0 + x1) / 2
        dy = PANEL_TOP + height / 2 - scale * (y0 + y1) / 2
        return cls(scale, dx, dy)

    def px(self, p: Point) -> Point:
        """View units → final pixels."""
        return (self.dx + p[0] * self.scale, self.dy + p[1] * self.scale)

    def ss(self, points: list[Point]) -> list[Point]:
        """View units → drawing-scale pixels."""
        return [(x * SCALE, y * SCALE) for x, y in map(self.px, points)]


def render_area(content: Content, area_id: str, tool_id: str | None = None) -> bytes:
    """The PNG of one area's picture for a tool (without one: where to place any tool)."""
    picture = content.pictures.areas[area_id].for_tool(tool_id)
    view = content.pictures.views[picture.view]
    frame = _Frame.fit(picture.frame)
    image = canvas(HEIGHT)
    _draw_panel(image, view, picture, frame)
    draw = ImageDraw.Draw(image)
    title, legend_knots, legend_place, legend_avoid = _words(content, area_id)
    write(draw, (WIDTH / 2, 26), title, TITLE_SIZE, INK, anchor="mt", bold=True)
    _draw_labels(draw, view, picture, frame)
    _draw_legend(image, [("knots", legend_knots), ("place", legend_place), ("avoid", legend_avoid)])
    return to_png(image)


# -- the panel: body, details and marks ------------------------------------------------------


def _panel_mask(size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    box = (PANEL_LEFT * SCALE, PANEL_TOP * SCALE, PANEL_RIGHT * SCALE, (PANEL_TOP + PANEL_HEIGHT) * SCALE)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius=18 * SCALE, fill=255)
    return mask


def _shape_mask(size: tuple[int, int], shapes: list[Shape], frame: _Frame, centre: float) -> Image.Image:
    """White where the shapes are (closed shapes filled, lines stroked)."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for shape in shapes:
        for points in outlines(shape, centre):
            if shape.line is not None:
                width = max(1, round(shape.width * frame.scale * SCALE))
                draw.line(frame.ss(points), fill=255, width=width, joint="curve")
            else:
                draw.polygon(frame.ss(points), fill=255)
    return mask


def _stroke(
    size: tuple[int, int], shapes: list[Shape], frame: _Frame, centre: float, px: float
) -> Image.Image:
    """The shapes' outlines stroked ``px`` final pixels wide on each side (a mask)."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    width = max(1, round(2 * px * SCALE))
    for shape in shapes:
        for points in outlines(shape, centre):
            pts = frame.ss(points)
            if shape.line is not None:
                extra = max(1, round(shape.width * frame.scale * SCALE))
                draw.line(pts, fill=255, width=extra + width, joint="curve")
            else:
                draw.line([*pts, pts[0], pts[1]], fill=255, width=width, joint="curve")
    return mask


def _edge(stroke: Image.Image, mask: Image.Image) -> Image.Image:
    """The part of a stroke outside the mask."""
    return ImageChops.subtract(stroke, mask)


def _fill(image: Image.Image, colour: Colour, mask: Image.Image, alpha: int = 255) -> None:
    """Paint ``colour`` through ``mask`` (only within the mask's bounding box: much faster)."""
    box = mask.getbbox()
    if box is None:
        return
    mask = mask.crop(box)
    if alpha < 255:
        mask = mask.point(lambda v: v * alpha // 255)
    image.paste(colour, box, mask)


def _hatch(size: tuple[int, int], spacing: int = 9, width: float = 3.0) -> Image.Image:
    """Diagonal stripes (a mask), the pattern of the zones to avoid."""
    stripes = Image.new("L", size, 0)
    draw = ImageDraw.Draw(stripes)
    step = spacing * SCALE
    for x in range(-size[1], size[0], step):
        draw.line([(x, size[1]), (x + size[1], 0)], fill=255, width=round(width * SCALE))
    return stripes


def _draw_panel(image: Image.Image, view: View, picture: AreaPicture, frame: _Frame) -> None:
    size = image.size
    centre = view.size[0] / 2
    layer = Image.new("RGB", size, PANEL)
    body = _shape_mask(size, view.body, frame, centre)
    _fill(layer, SKIN_EDGE, _edge(_stroke(size, view.body, frame, centre, 1.6), body))
    _fill(layer, SKIN, body)
    draw = ImageDraw.Draw(layer)
    for shape in view.details:
        for points in outlines(shape, centre):
            width = max(1, round(shape.width * frame.scale * SCALE))
            if shape.line is not None:
                draw.line(frame.ss(points), fill=DETAIL, width=width, joint="curve")
            else:
                draw.polygon(frame.ss(points), outline=DETAIL, width=width)
    hatch = _hatch(size)
    for kind, mark in picture.marks():
        mask = _shape_mask(size, mark.shapes, frame, centre)

        def stroke(px: float, shapes: list[Shape] = mark.shapes) -> Image.Image:
            return _stroke(size, shapes, frame, centre, px)

        if kind == "avoid":
            _fill(layer, AVOID_FILL, mask, alpha=70)
            _fill(layer, AVOID_FILL, ImageChops.multiply(mask, hatch))
            _fill(layer, AVOID_EDGE, _edge(stroke(1.4), mask))
        elif kind == "knots":
            _fill(layer, (255, 255, 255), _edge(stroke(2.4), mask))
            _fill(layer, KNOT_FILL, mask)
            _fill(layer, KNOT_EDGE, ImageChops.multiply(stroke(1.0), mask))
        else:
            ring = ImageChops.multiply(stroke(4.0), mask)
            _fill(layer, (255, 255, 255), _edge(stroke(1.6), mask))
            _fill(layer, PLACE_EDGE, ring)
    panel = _panel_mask(size)
    box = panel.getbbox()
    assert box is not None
    image.paste(layer.crop(box), box, panel.crop(box))


# -- labels in the margins ---------------------------------------------------------------------


@dataclass
class _Label:
    kind: str
    lines: list[str]
    side: str
    anchor: Point  # final pixels: where the leader line points
    target: list[list[Point]]  # final pixels: the mark's outlines on that side
    closed: bool
    top: float = 0.0

    @property
    def height(self) -> float:
        return len(self.lines) * LABEL_LINE


def _mark_label(kind: str, mark: Mark, view: View, frame: _Frame) -> _Label:
    centre = view.size[0] / 2
    copies = [(shape, points) for shape in mark.shapes for points in outlines(shape, centre)]
    mid = centroid([centroid(points) for _, points in copies])
    side = mark.side or ("left" if mid[0] < centre else "right")
    # the copy nearest the label's margin
    shape, points = min(copies, key=lambda sp: centroid(sp[1])[0] * (1 if side == "left" else -1))
    targets = [[frame.px(p) for p in points]]
    anchor = centroid(targets[0])
    if shape.line is not None:
        anchor = targets[0][len(targets[0]) // 2]
    lines = wrap(mark.label, LABEL_SIZE, GUTTER - 30)
    return _Label(kind, lines, side, anchor, targets, closed=shape.line is None)


def _spread(labels: list[_Label]) -> None:
    """Place labels near their anchors' height without overlapping, inside the panel's height."""
    gap = 10
    labels.sort(key=lambda lab: lab.anchor[1])
    bottom = PANEL_TOP + 4.0
    for lab in labels:
        lab.top = max(lab.anchor[1] - LABEL_LINE / 2, bottom)
        bottom = lab.top + lab.height + gap
    limit = PANEL_TOP + PANEL_HEIGHT - 4.0
    for lab in reversed(labels):
        if lab.top + lab.height > limit:
            lab.top = limit - lab.height
        limit = lab.top - gap


def _inside(point: Point, polygon: list[Point]) -> bool:
    x, y = point
    inside = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _leader_end(start: Point, label: _Label) -> Point:
    """Where the leader line meets the mark: its edge, not its middle (small marks stay visible)."""
    if not label.closed:
        return label.anchor
    polygon = label.target[0]
    steps = 200
    for i in range(steps + 1):
        t = i / steps
        p = (start[0] + (label.anchor[0] - start[0]) * t, start[1] + (label.anchor[1] - start[1]) * t)
        if _inside(p, polygon):
            return p
    return label.anchor


def _draw_labels(draw: ImageDraw.ImageDraw, view: View, picture: AreaPicture, frame: _Frame) -> None:
    labels = [_mark_label(kind, mark, view, frame) for kind, mark in picture.marks()]
    for side in ("left", "right"):
        _spread([lab for lab in labels if lab.side == side])
    for lab in labels:
        colour = TEXT_COLOUR[lab.kind]
        left = lab.side == "left"
        text_x = GUTTER - 14 if left else WIDTH - GUTTER + 14
        for i, line in enumerate(lab.lines):
            y = lab.top + i * LABEL_LINE + LABEL_LINE / 2
            write(draw, (text_x, y), line, LABEL_SIZE, colour, anchor="rm" if left else "lm")
        start = (GUTTER - 6.0 if left else WIDTH - GUTTER + 6.0, lab.top + LABEL_LINE / 2)
        elbow = (start[0] + (14.0 if left else -14.0), start[1])
        end = _leader_end(elbow, lab)
        points = [(x * SCALE, y * SCALE) for x, y in (start, elbow, end)]
        draw.line(points, fill=(255, 255, 255), width=6 * SCALE // 2 + 2, joint="curve")
        draw.line(points, fill=colour, width=2 * SCALE, joint="curve")
        r = 3.2 * SCALE
        ex, ey = end[0] * SCALE, end[1] * SCALE
        draw.ellipse((ex - r, ey - r, ex + r, ey + r), fill=colour, outline=(255, 255, 255), width=SCALE)


# -- the legend ------------------------------------------------------------------------------


def _icon(image: Image.Image, kind: str, centre: Point) -> None:
    """The legend's sample of a kind of mark, 30 px across."""
    r = 12 * SCALE
    cx, cy = centre[0] * SCALE, centre[1] * SCALE
    box = (round(cx - r), round(cy - r), round(cx + r), round(cy + r))
    draw = ImageDraw.Draw(image)
    if kind == "avoid":
        tile = image.crop(box)
        mask = Image.new("L", tile.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, tile.width - 1, tile.height - 1), 4 * SCALE, fill=255)
        _fill(tile, AVOID_FILL, mask, alpha=70)
        _fill(tile, AVOID_FILL, ImageChops.multiply(mask, _hatch(tile.size)))
        image.paste(tile, box[:2])
        draw.rounded_rectangle(box, radius=4 * SCALE, outline=AVOID_EDGE, width=round(1.4 * SCALE))
    elif kind == "knots":
        small = r * 0.62
        draw.ellipse(
            (cx - small, cy - small, cx + small, cy + small), fill=KNOT_FILL, outline=KNOT_EDGE, width=SCALE
        )
    else:
        draw.ellipse(box, outline=PLACE_EDGE, width=4 * SCALE)


def _draw_legend(image: Image.Image, entries: list[tuple[str, str]]) -> None:
    """One row: icon and words for each kind, spaced evenly (two rows if they do not fit)."""
    draw = ImageDraw.Draw(image)
    widths = [38 + text_width(words, LEGEND_SIZE) for _, words in entries]
    rows = [entries] if sum(widths) + 16 * (len(entries) + 1) <= WIDTH else [entries[:2], entries[2:]]
    for r, row in enumerate(rows):
        row_widths = [38 + text_width(words, LEGEND_SIZE) for _, words in row]
        gap = (WIDTH - sum(row_widths)) / (len(row) + 1)
        x = gap
        y = LEGEND_TOP + 30 + r * 40
        for (kind, words), width in zip(row, row_widths, strict=True):
            _icon(image, kind, (x + 14, y))
            write(draw, (x + 38, y), words, LEGEND_SIZE, INK, anchor="lm")
            x += width + gap
