"""Drawing helpers shared by the area pictures and the progress chart.

Everything is drawn at ``SCALE`` times the final size and scaled down once at
the end, which gives smooth (anti-aliased) edges with plain Pillow. The font
is Pillow's built-in scalable font, so nothing is downloaded or installed.
The colours are the Okabe–Ito palette, which stays distinct for the common
kinds of colour blindness; every mark also differs in shape, not only colour.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from bot.domain.pictures import EllipseSpec, Point, Shape

SCALE = 3  # drawn at 3x, then scaled down
WIDTH = 800  # final width of every picture, in pixels

Colour = tuple[int, int, int]

INK: Colour = (34, 34, 34)
MUTED: Colour = (96, 96, 96)
PAPER: Colour = (255, 255, 255)
PANEL: Colour = (241, 244, 247)
GRID: Colour = (214, 218, 223)
SKIN: Colour = (246, 228, 210)
SKIN_EDGE: Colour = (128, 104, 88)
DETAIL: Colour = (178, 146, 124)

# Okabe–Ito
ORANGE: Colour = (230, 159, 0)
SKY: Colour = (86, 180, 233)
GREEN: Colour = (0, 158, 115)
YELLOW: Colour = (240, 228, 66)
BLUE: Colour = (0, 114, 178)
VERMILLION: Colour = (213, 94, 0)
PURPLE: Colour = (204, 121, 167)
BLACK: Colour = (0, 0, 0)

# what each kind of mark looks like: fill, edge, text (the text colours are darker for contrast)
KNOT_FILL, KNOT_EDGE, KNOT_TEXT = VERMILLION, (140, 56, 0), (166, 66, 0)
PLACE_EDGE, PLACE_TEXT = BLUE, (0, 92, 150)
AVOID_FILL, AVOID_EDGE, AVOID_TEXT = PURPLE, (134, 54, 106), (134, 54, 106)

# lines of the progress chart: colour and marker per area, in order of first use
SERIES: tuple[tuple[Colour, str], ...] = (
    (BLUE, "circle"),
    (VERMILLION, "square"),
    (GREEN, "triangle"),
    (PURPLE, "diamond"),
    (ORANGE, "triangle_down"),
    (SKY, "circle"),
    (BLACK, "square"),
)


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in scalable font at ``size`` final pixels (drawn at ``SCALE`` times that)."""
    return ImageFont.load_default(size=size * SCALE)


def canvas(height: int, background: Colour = PAPER) -> Image.Image:
    """A blank RGB image of the final ``WIDTH`` × ``height``, at drawing scale."""
    return Image.new("RGB", (WIDTH * SCALE, height * SCALE), background)


def to_png(image: Image.Image) -> bytes:
    """Scale down to the final size (this is the anti-aliasing) and encode as PNG."""
    final = image.resize((image.width // SCALE, image.height // SCALE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    final.save(out, format="PNG", optimize=True)
    return out.getvalue()


# characters the built-in font lacks, and what to draw instead
SUBSTITUTES = str.maketrans({"—": "-", "–": "-", "•": "·", "✓": "·"})


def printable(text: str) -> str:
    """``text`` with the characters the built-in font lacks replaced by ones it has."""
    return text.translate(SUBSTITUTES)


def text_width(text: str, size: int) -> float:
    """Width of ``text`` in final pixels."""
    return float(font(size).getlength(printable(text))) / SCALE


def wrap(text: str, size: int, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` final pixels (a long word stays whole)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and text_width(candidate, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def write(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    colour: Colour = INK,
    *,
    anchor: str = "la",
    bold: bool = False,
) -> None:
    """Draw text at final-pixel coordinates (bold is a thin outline in the same colour)."""
    draw.text(
        (xy[0] * SCALE, xy[1] * SCALE),
        printable(text),
        font=font(size),
        fill=colour,
        anchor=anchor,
        stroke_width=1 if bold else 0,
        stroke_fill=colour,
    )


def ellipse_points(spec: EllipseSpec, steps: int = 72) -> list[Point]:
    (cx, cy), (rx, ry) = spec.center, spec.radii
    turn = math.radians(spec.angle)
    points = []
    for i in range(steps):
        a = 2 * math.pi * i / steps
        x, y = rx * math.cos(a), ry * math.sin(a)
        points.append(
            (cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn))
        )
    return points


def smooth(points: Sequence[Point], closed: bool, steps: int = 8) -> list[Point]:
    """A Catmull–Rom curve through the points (it passes through every one of them)."""
    pts = list(points)
    n = len(pts)
    if n < 3:
        return pts
    out: list[Point] = []
    last = n if closed else n - 1
    for i in range(last):
        p0 = pts[(i - 1) % n] if closed or i > 0 else pts[0]
        p1, p2 = pts[i], pts[(i + 1) % n]
        p3 = pts[(i + 2) % n] if closed or i + 2 < n else pts[-1]
        for s in range(steps):
            t = s / steps
            t2, t3 = t * t, t * t * t
            out.append(
                (
                    0.5
                    * (
                        2 * p1[0]
                        + (-p0[0] + p2[0]) * t
                        + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                        + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3
                    ),
                    0.5
                    * (
                        2 * p1[1]
                        + (-p0[1] + p2[1]) * t
                        + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                        + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3
                    ),
                )
            )
    if not closed:
        out.append(pts[-1])
    return out


def outlines(shape: Shape, centre_x: float) -> list[list[Point]]:
    """The point lists to draw for a shape, in view units: one, or two when mirrored.

    A mirrored polygon that touches the centre line is one half of a symmetric
    outline: it is closed with its mirror image into one polygon.
    """
    if shape.ellipse is not None:
        base = ellipse_points(shape.ellipse)
        closed = True
    elif shape.polygon is not None:
        base = list(shape.polygon)
        closed = True
    else:
        base = list(shape.line or [])
        closed = False

    def mirrored(points: list[Point]) -> list[Point]:
        return [(2 * centre_x - x, y) for x, y in points]

    halves = closed and shape.polygon is not None and shape.mirror
    halves = halves and math.isclose(base[0][0], centre_x) and math.isclose(base[-1][0], centre_x)
    if halves:
        whole = base + mirrored(base[-2:0:-1])
        return [smooth(whole, True) if shape.smooth else whole]
    result = [smooth(base, closed) if shape.smooth else base]
    if shape.mirror:
        result.append(mirrored(result[0]))
    return result


def centroid(points: Sequence[Point]) -> Point:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
