"""``knotbot match [TEXT ...]``: print how the matcher reads each text, one JSON object per line.

With texts on the command line each one is matched; with none, one utterance is read
per line from standard input (an empty line still gives a result). Output is in input
order: ``{"text", "area", "red_flag", "score", "candidates": [{"area", "score"}]}``.
Content authors use it to check their aliases and warning phrases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from bot.domain.content import Content
from bot.domain.matcher import Matcher, to_json_dict


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
