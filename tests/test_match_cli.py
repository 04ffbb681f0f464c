"""Tests of ``knotbot match`` (bot.match_cli.run): arguments, stdin, JSON lines in input order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.content_loader import load_content
from bot.domain.content import Content
from bot.match_cli import run, run_eval


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
        "ask": None,
        "denied": [],
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
    assert rows[1] == {
        "text": "",
        "area": None,
        "red_flag": None,
        "ask": None,
        "denied": [],
        "score": 0.0,
        "candidates": [],
    }
    assert rows[2]["red_flag"] == "blood_clot"
    assert rows[3]["area"] == "neck"


def test_json_keeps_unicode(content: Content) -> None:
    out = io.StringIO()
    run(["calf 😫"], io.StringIO(), out, content)
    assert "😫" in out.getvalue()
    assert set(json.loads(out.getvalue())) == {
        "text",
        "area",
        "red_flag",
        "ask",
        "denied",
        "score",
        "candidates",
    }


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


def test_ask_and_denied_are_part_of_the_contract(content: Content) -> None:
    """docs/matching.md: ``ask`` is the sign the bot would ask about, ``denied`` the signs ruled out;
    ``red_flag`` and ``ask`` are never both set."""
    rows = _run(
        content,
        [
            "sore spot under my shoulder blade, I don't have any pins and needles",
            "maybe a bit of tingling in my fingers?",
            "my calf is swollen, red and warm",
        ],
    )
    assert [(r["area"], r["red_flag"], r["ask"], r["denied"]) for r in rows] == [
        ("upper_back", None, None, ["nerve_symptoms"]),
        (None, None, "nerve_symptoms", []),
        (None, "blood_clot", None, []),
    ]


def test_eval_scores_a_labelled_set(content: Content, tmp_path: Path) -> None:
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "rows:\n"
        '  - {text: "my calf is swollen and red", sign: blood_clot}\n'
        '  - {text: "tight calves, no swelling", area: calves, denied: [blood_clot]}\n'
        '  - {text: "tight hammies", area: calves}\n'
        '  - {text: "pizza"}\n',
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_eval([labelled], out, err, content) == 0
    report = out.getvalue()
    assert "warning signs caught (stop or question): 1/1 = 100.0%" in report
    assert "wrong stops on text with no warning sign: 0/3 = 0.0%" in report
    assert "area top-1 (a close call with the right first candidate = 1/2): 1/2 = 50.0%" in report
    assert "denials read (every denied sign reported): 1/1 = 100.0%" in report
    assert "area calves (0): 'tight hammies' -> area hamstrings" in report
    quiet = io.StringIO()
    assert run_eval([labelled], quiet, err, content, rows=False) == 0
    assert "wrong stops on text with no warning sign: 0/3 = 0.0%" in quiet.getvalue()
    assert "tight hammies" not in quiet.getvalue()
    assert "confusion list: 1 rows, not shown (--classes-only)" in quiet.getvalue()


def test_eval_names_a_bad_row(content: Content, tmp_path: Path) -> None:
    labelled = tmp_path / "bad.yaml"
    labelled.write_text('rows:\n  - {text: "neck", sign: no_such_sign}\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run_eval([labelled], out, err, content) == 1
    assert "unknown warning id 'no_such_sign'" in err.getvalue()
    assert run_eval([tmp_path / "missing.yaml"], io.StringIO(), err, content) == 1
