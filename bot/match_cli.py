"""``knotbot match [TEXT ...]``: print how the matcher reads each text, one JSON object per line.

With texts on the command line each one is matched; with none, one utterance is read
per line from standard input (an empty line still gives a result). Output is in input
order: ``{"text", "area", "red_flag", "ask", "denied", "score", "candidates": [{"area",
"score"}]}`` — a contract that docs/matching.md describes. ``--eval FILE ...`` scores
labelled sets instead (:mod:`bot.match_eval`); add ``--classes-only`` for a held-out set that
must stay unread (figures only, no rows). Content authors use it to check their
aliases and warning phrases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.domain.content import Content
from bot.domain.matcher import Matcher, to_json_dict
from bot.match_eval import LabelError, evaluate, format_report, load_rows


def _lines(stdin: TextIO) -> Iterable[str]:
    for line in stdin:
        yield line.rstrip("\r\n")


def run(argv_texts: list[str], stdin: TextIO, stdout: TextIO, content: Content) -> int:
    """Match ``argv_texts`` (or every stdin line when there are none); return the exit code."""
    matcher = Matcher(content)
    texts: Iterable[str] = argv_texts if argv_texts else _lines(stdin)
    for text in texts:
        stdout.write(json.dumps(to_json_dict(matcher.match(text)), ensure_ascii=False) + "\n")
        if not argv_texts:
            stdout.flush()  # answer each line as it comes when piped interactively
    return 0


def run_eval(paths: list[Path], stdout: TextIO, stderr: TextIO, content: Content, rows: bool = True) -> int:
    """Score each labelled set and print its report (without its confusion list when ``rows`` is
    false); 1 with one line when a file is unreadable."""
    matcher = Matcher(content)
    signs = {f.id for f in content.red_flags}
    areas = {a.id for a in content.areas}
    for path in paths:
        try:
            report = evaluate(matcher, load_rows(path), path.name, signs, areas)
        except (OSError, LabelError) as exc:
            stderr.write(f"knotbot: {exc}\n")
            return 1
        stdout.write(format_report(report, rows) + "\n")
    return 0
