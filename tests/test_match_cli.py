"""Tests of ``knotbot match`` (bot.match_cli.run): arguments, stdin, JSON lines in input order."""

from __future__ import annotations

import io
import json

import pytest

from bot.content_loader import load_content
from bot.domain.content import Content
from bot.match_cli import run


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


def _run(content: Content, args: list[str], stdin: str = "") -> list[dict[str, object]]:
    out = io.StringIO()
    assert run(args, io.StringIO(stdin), out, content) == 0
    text = out.getvalue()
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]


def test_arguments_in_order(content: Content) -> None:
    rows = _run(content, ["tight hammies", "chest pain", "pizza", "back"], stdin="ignored\n")
    assert [r["text"] for r in rows] == ["tight hammies", "chest pain", "pizza", "back"]
    assert rows[0] == {
        "text": "tight hammies",
        "area": "hamstrings",
        "red_flag": None,
        "score": 100.0,
        "candidates": [],
    }
    assert rows[1]["red_flag"] == "chest_pain" and rows[1]["area"] is None
    assert rows[2]["area"] is None and rows[2]["candidates"] == []
    assert rows[3]["area"] is None
    assert {c["area"] for c in rows[3]["candidates"]} == {"upper_back", "lower_back"}  # type: ignore[union-attr]


def test_stdin_one_per_line_keeps_empty_lines(content: Content) -> None:
    rows = _run(content, [], stdin="calfs\n\nmy calf is swollen, red and warm\r\nnek")
    assert [r["text"] for r in rows] == ["calfs", "", "my calf is swollen, red and warm", "nek"]
    assert rows[0]["area"] == "calves"
    assert rows[1] == {"text": "", "area": None, "red_flag": None, "score": 0.0, "candidates": []}
    assert rows[2]["red_flag"] == "blood_clot"
    assert rows[3]["area"] == "neck"


def test_json_keeps_unicode(content: Content) -> None:
    out = io.StringIO()
    run(["calf 😫"], io.StringIO(), out, content)
    assert "😫" in out.getvalue()
    assert set(json.loads(out.getvalue())) == {"text", "area", "red_flag", "score", "candidates"}


def test_no_input(content: Content) -> None:
    assert _run(content, [], stdin="") == []


def test_warning_signs_and_zones_to_avoid_are_reported_as_red_flags(content: Content) -> None:
    rows = _run(content, ["back of my knee", "infected cut", "hurts to breathe", "neck n shoulders"])
    assert [(r["area"], r["red_flag"], r["candidates"]) for r in rows] == [
        (None, "avoid_zone", []),
        (None, "open_wound", []),
        (None, "chest_pain", []),
        ("upper_traps", None, []),
    ]
