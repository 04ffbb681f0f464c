"""Score another checkout's matcher on labelled sets, for a before/after comparison.

The other checkout (for example the last landed main: ``git worktree add /tmp/before <rev>``, or
``git archive <rev> | tar -x -C /tmp/before``) is imported instead of this one; its own content
is used. Matchers from before the yes/no question have no ``ask``: they can only stop.

Run:  python benchmarks/matcher_baseline.py /tmp/before tests/data/heldout_en.yaml [...]
Prints caught / wrong stops / extra questions / area top-1, the same figures as
``knotbot match --eval``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="the other checkout's root folder")
    parser.add_argument("files", type=Path, nargs="+", help="labelled sets (rows of text/sign/area)")
    args = parser.parse_args()
    sets = [(path.name, yaml.safe_load(path.read_text(encoding="utf-8"))["rows"]) for path in args.files]
    sys.path.insert(0, str(args.checkout.resolve()))
    from bot.content_loader import load_content
    from bot.domain.matcher import Matcher

    matcher = Matcher(load_content(args.checkout / "content"))
    for name, rows in sets:
        warnings = caught = plain = stops = questions = areas = 0
        points = 0.0
        for row in rows:
            result = matcher.match(row["text"])
            ask = getattr(result, "ask", None)
            if row.get("sign"):
                warnings += 1
                caught += result.red_flag is not None or ask is not None
                continue
            plain += 1
            stops += result.red_flag is not None
            questions += result.red_flag is None and ask is not None
            if row.get("area"):
                areas += 1
                if result.area == row["area"]:
                    points += 1
                elif result.area is None and result.candidates and result.candidates[0].area == row["area"]:
                    points += 0.5
        print(
            f"{name}: caught {caught}/{warnings} = {100 * caught / warnings:.1f}%, "
            f"wrong stops {stops}/{plain} = {100 * stops / plain:.1f}%, "
            f"extra questions {questions}/{plain} = {100 * questions / plain:.1f}%, "
            f"area top-1 {points:g}/{areas} = {100 * points / areas:.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
