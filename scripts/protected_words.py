"""Regenerate the matcher's PROTECTED list: English words typo correction must leave alone.

Every word of Debian's ``wamerican-small`` list (``apt-get install wamerican-small``) that the
typo correction would turn into a different vocabulary word - a warning term, a cue ("five" ->
"fine"), an idiom - is added, except plain inflections of it (+s, es, d, ed or e) and words whose
correction is an area word that no warning term uses (rare words such as "gluts" are far more
likely typos here). Run after changing aliases, warning phrases or cues:

    python scripts/protected_words.py          # rewrites PROTECTED in bot/domain/matcher.py

``pytest tests/test_matcher.py -k dictionary`` fails while a word is missing.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content_loader import load_content  # noqa: E402
from bot.domain import matcher as m  # noqa: E402

DICTIONARY = Path("/usr/share/dict/american-english-small")


def wrongly_corrected(matcher: m.Matcher, content: object) -> dict[str, str]:
    """Dictionary words the correction would change into another vocabulary word."""
    assert hasattr(content, "aliases")
    area_vocab = {w for aliases in content.aliases.values() for a in aliases for w in m.area_words(a)}
    area_vocab |= {w for area in content.areas for w in m.area_words(area.name)}
    warning_vocab = {
        w
        for patterns in content.warning_phrases.values()
        for pattern in patterns
        for group in pattern.all_of
        for term in group
        for w in m.normalise(term)
    }
    wrong: dict[str, str] = {}
    for line in DICTIONARY.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if not (word.isascii() and word.isalpha() and word.islower()) or word in m.PROTECTED:
            continue
        target, _ = matcher._correct(word)
        if target == word or target in m.FILLER or (target in area_vocab and target not in warning_vocab):
            continue
        short, long = sorted((word, target), key=len)
        if any(long == short + ending for ending in ("s", "es", "d", "ed", "e")):
            continue
        wrong[word] = target
    return wrong


def main() -> int:
    if not DICTIONARY.exists():
        print(f"{DICTIONARY} is missing: apt-get install wamerican-small", file=sys.stderr)
        return 1
    content = load_content()
    wrong = wrongly_corrected(m.Matcher(content), content)
    words = sorted(set(m.PROTECTED) | set(wrong))
    path = ROOT / "bot" / "domain" / "matcher.py"
    source = path.read_text(encoding="utf-8")
    head = 'PROTECTED: frozenset[str] = _words(\n    """\n'
    start = source.index(head) + len(head)
    end = source.index('    """\n)', start)
    body = textwrap.fill(" ".join(words), width=100, initial_indent="    ", subsequent_indent="    ")
    path.write_text(source[:start] + body + "\n" + source[end:], encoding="utf-8")
    print(f"PROTECTED: {len(words)} words ({len(wrong)} added)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
