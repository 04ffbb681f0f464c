"""Score the matcher on a labelled set: ``knotbot match --eval FILE``.

A labelled set is YAML with ``rows:``, each ``{text, sign?, area?, denied?}``
(``tests/data/heldout_en.yaml`` is the frozen held-out set, ``tests/data/dev_en.yaml``
the development set; docs/matching.md explains both):

* a row with ``sign`` states, hedges or indirectly describes that warning sign: it is
  *caught* when the matcher stops (``red_flag``) or asks about a sign (``ask``);
* a row without ``sign`` states no warning sign: a stop there is a *wrong stop*, a
  question an *extra question*; with ``area`` the top-1 area must be that area (a close
  call whose first candidate is right counts half); without ``area`` it is out of scope
  and must give no area, no candidates and no stop;
* ``denied`` lists the signs the text rules out: each should be in the result's ``denied``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.domain.matcher import Matcher, MatchResult


@dataclass(frozen=True)
class Row:
    """One labelled utterance."""

    text: str
    sign: str | None = None
    area: str | None = None
    denied: tuple[str, ...] = ()


class LabelError(ValueError):
    """A labelled set that cannot be read; the message names the row."""


def load_rows(path: Path) -> list[Row]:
    """Read a labelled set; every row needs a text, ids are checked by :func:`evaluate`."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise LabelError(f"{path.name}: expected a top-level 'rows' list")
    rows: list[Row] = []
    for i, raw in enumerate(data["rows"], start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise LabelError(f"{path.name}: row {i}: expected a mapping with a 'text' string")
        denied = raw.get("denied") or []
        if not isinstance(denied, list) or not all(isinstance(d, str) for d in denied):
            raise LabelError(f"{path.name}: row {i}: 'denied' must be a list of warning ids")
        rows.append(Row(raw["text"], raw.get("sign"), raw.get("area"), tuple(denied)))
    return rows


@dataclass
class Report:
    """Counts per class, and the rows that went wrong (the confusion list)."""

    name: str
    warnings: int = 0
    caught: int = 0
    stopped: int = 0
    same_sign: int = 0
    plain: int = 0  # rows that state no warning sign
    wrong_stops: int = 0
    questions: int = 0
    areas: int = 0
    area_points: float = 0.0
    out_of_scope: int = 0
    rejected: int = 0
    denials: int = 0
    denials_read: int = 0
    per_sign: Counter[str] = field(default_factory=Counter)
    per_sign_caught: Counter[str] = field(default_factory=Counter)
    per_area: Counter[str] = field(default_factory=Counter)
    per_area_points: dict[str, float] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """The targets' figures, as fractions (1.0 when a class is empty)."""

        def share(part: float, whole: int) -> float:
            return part / whole if whole else 1.0

        return {
            "warnings_caught": share(self.caught, self.warnings),
            "wrong_stops": share(self.wrong_stops, self.plain) if self.plain else 0.0,
            "extra_questions": share(self.questions, self.plain) if self.plain else 0.0,
            "area_top1": share(self.area_points, self.areas),
            "out_of_scope_rejected": share(self.rejected, self.out_of_scope),
            "denials_read": share(self.denials_read, self.denials),
        }


def _said(result: MatchResult) -> str:
    if result.red_flag:
        return f"stop {result.red_flag}"
    parts = [f"ask {result.ask}"] if result.ask else []
    if result.area:
        parts.append(f"area {result.area}")
    elif result.candidates:
        parts.append("close call " + "/".join(c.area for c in result.candidates))
    if result.denied:
        parts.append("denied " + ",".join(result.denied))
    return "; ".join(parts) or "nothing"


def evaluate(matcher: Matcher, rows: list[Row], name: str, signs: set[str], areas: set[str]) -> Report:
    """Match every row and count the outcomes; unknown ids raise :class:`LabelError`."""
    report = Report(name)
    for row in rows:
        for label in (row.sign, *row.denied):
            if label is not None and label not in signs:
                raise LabelError(f"{name}: {row.text!r}: unknown warning id {label!r}")
        if row.area is not None and row.area not in areas:
            raise LabelError(f"{name}: {row.text!r}: unknown area {row.area!r}")
        result = matcher.match(row.text)
        said = _said(result)
        if row.sign is not None:
            report.warnings += 1
            report.per_sign[row.sign] += 1
            flag = result.red_flag or result.ask
            if flag is not None:
                report.caught += 1
                report.per_sign_caught[row.sign] += 1
                report.stopped += result.red_flag is not None
                report.same_sign += flag == row.sign
            else:
                report.misses.append(f"MISSED {row.sign}: {row.text!r} -> {said}")
            continue
        report.plain += 1
        if result.red_flag is not None:
            report.wrong_stops += 1
            report.misses.append(f"WRONG STOP: {row.text!r} -> {said}")
        elif result.ask is not None:
            report.questions += 1
            report.misses.append(f"extra question: {row.text!r} -> {said}")
        if row.denied:
            report.denials += 1
            if result.red_flag is None and set(row.denied) <= set(result.denied):
                report.denials_read += 1
        if row.area is not None:
            report.areas += 1
            report.per_area[row.area] += 1
            points = 0.0
            if result.area == row.area:
                points = 1.0
            elif result.area is None and result.candidates and result.candidates[0].area == row.area:
                points = 0.5
            report.area_points += points
            report.per_area_points[row.area] = report.per_area_points.get(row.area, 0.0) + points
            if points < 1.0:
                report.misses.append(f"area {row.area} ({points:g}): {row.text!r} -> {said}")
        else:
            report.out_of_scope += 1
            if result.red_flag is None and result.area is None and not result.candidates:
                report.rejected += 1
            else:
                report.misses.append(f"out of scope: {row.text!r} -> {said}")
    return report


def format_report(report: Report, rows: bool = True) -> str:
    """A plain-text report: the four target figures, per class, then the confusion list (unless
    ``rows`` is false: a held-out set that stays unread is scored by class only)."""
    f = report.figures()
    lines = [
        f"{report.name}: {report.warnings + report.plain} rows",
        f"  warning signs caught (stop or question): {report.caught}/{report.warnings}"
        f" = {100 * f['warnings_caught']:.1f}%  (stops {report.stopped}, same sign {report.same_sign})",
        f"  wrong stops on text with no warning sign: {report.wrong_stops}/{report.plain}"
        f" = {100 * f['wrong_stops']:.1f}%",
        f"  extra questions on text with no warning sign: {report.questions}/{report.plain}"
        f" = {100 * f['extra_questions']:.1f}%",
        "  area top-1 (a close call with the right first candidate = 1/2): "
        f"{report.area_points:g}/{report.areas}"
        f" = {100 * f['area_top1']:.1f}%",
        f"  out of scope rejected: {report.rejected}/{report.out_of_scope}"
        f" = {100 * f['out_of_scope_rejected']:.1f}%",
        f"  denials read (every denied sign reported): {report.denials_read}/{report.denials}"
        f" = {100 * f['denials_read']:.1f}%",
        "  per sign (caught/rows):",
    ]
    lines += [f"    {s:<16} {report.per_sign_caught[s]}/{n}" for s, n in sorted(report.per_sign.items())]
    lines.append("  per area (points/rows):")
    lines += [
        f"    {a:<16} {report.per_area_points.get(a, 0.0):g}/{n}" for a, n in sorted(report.per_area.items())
    ]
    if not rows:
        lines.append(f"  confusion list: {len(report.misses)} rows, not shown (--classes-only)")
        return "\n".join(lines)
    lines.append(f"  confusion list ({len(report.misses)}):")
    lines += [f"    {m}" for m in report.misses]
    return "\n".join(lines)
