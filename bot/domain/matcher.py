"""Understand free text: which body area someone means, and whether they describe a warning sign.

One matcher serves the Telegram conversation, the terminal chat and ``knotbot match``.
It is pure: it reads only :class:`~bot.domain.content.Content` (``aliases`` and
``warning_phrases``) and knows nothing of Telegram or storage.

How a text is read:

1. **Normalise** - casefold, strip accents, emoji, zero-width characters and
   punctuation (``can't`` -> ``cant``, ``10/10`` -> ``10 10``), read ``&``, ``+`` and
   ``n`` as "and", split into words; idioms that only look like a warning sign become
   one word ("warmed up", "burnt out", "feel the burn").
2. **Correct typos** word by word: an unknown word is matched with rapidfuzz against
   the vocabulary of aliases and warning terms ("swolen" -> "swollen",
   "hamstrigns" -> "hamstrings"); short words and ordinary English words that merely
   look like a body part ("but", "paint", "hands") are left alone.
3. **Warning phrases first**: a warning sign matches when every group of one of its
   patterns has a term in the text. When one matches, no area is reported. Zones to
   avoid ("back of my knee", "front of my neck", "armpit") are the ``avoid_zone`` sign,
   so they never become a massage area.
4. **Areas**: filler ("my", "a knot in", "is killing me", "sore", "tight", ...) is
   dropped and the longest alias phrases are looked up; several areas, or an alias
   shared by several areas ("thigh", "hip", "back"), give a close call.

Outcomes of :meth:`Matcher.match`: *confident* (``area`` set), *close call*
(``area`` None, 2-3 ``candidates``) and *nothing* (``area`` None, no candidates).
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.domain.content import Content, Severity
from bot.domain.scope import BOUNDARIES, COMMA, QUESTION_END, SENTENCE_END, Polarity, Scope, Whose

# -- thresholds -------------------------------------------------------------------

CONFIDENT_MARGIN = 12.0
"""A top area at least this far ahead of the next one (same support) is confident."""

MIN_AREA_SCORE = 75.0
"""Areas scoring below this are not reported at all."""

AMBIGUITY_PENALTY = 4.0
"""Score taken off an alias per extra area sharing it ("back" -> upper or lower back)."""

MAX_CANDIDATES = 3

LANDMARK_WEIGHT = 0.5
LANDMARK_REACH = 3
"""Words a locator may stand before the body word it bears on ("from wearing high heels")."""
"""Support of an area named after a locator ("the knot next to my spine, below my neck")."""

_CACHE_SIZE = 4096

# -- normalisation ----------------------------------------------------------------

_ZERO_WIDTH = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u0060\u00b4]")
_AND_SIGNS = re.compile(r"[&+]")
_NON_WORD = re.compile(r"[^a-z0-9.,?]+")
# sentence ends and commas are kept as tokens: they bound the scope of "no", "maybe", ...
_SENTENCE_ENDS = re.compile(r"(?:[!;:\n\r]|(?<!\d)\.|\.(?!\d))+")
_QUESTION = re.compile(r"\?+")
_COMMAS = re.compile(r"(?<!\d),|,(?!\d)")
_DIGIT_DOTS = re.compile(r"(?<=\d)[.,](?=\d)")
_DIGIT_LETTERS = re.compile(r"(?<=\d)(?=[a-z])")
_DIGIT = re.compile(r"\d")
# a body temperature: "38.5", "38,5c", "101 f", "39 degrees", "temp 39"
_TEMPERATURE = re.compile(
    r"\b(\d{2,3})(?:[.,](\d{1,2}))?\s*(?:degrees?|degs?|deg)?\s*(celsius|fahrenheit|c|f)?\b"
)
_TEMPERATURE_WORDS = re.compile(r"\b(?:temp|temps|temperature|fever|feverish|thermometer|degrees?)\b")
FEVER_TOKEN = "fevertemperature"
"""A measured fever (at least 37.8 C / 100 F) in the text becomes this word; warning phrases use it."""
# Spelling only, run on the normalised words (single spaces), each only when one of its
# trigger words is there. Idioms ("warmed up", "fell asleep") are content: understanding.yaml.
_PHRASES: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    (frozenset({"not", "cannot"}), re.compile(r"\bcan not\b|\bcannot\b"), "cant"),
    (frozenset({"m"}), re.compile(r"\bi m\b"), "im"),
    (frozenset({"n", "nd"}), re.compile(r"\bn\b|\bnd\b"), "and"),  # "neck n shoulders", "pins n needles"
    (frozenset({"o"}), re.compile(r"\bo\b"), "of"),  # "back o my knee"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no information about where the knot is. Dropped before aliases
# are looked up, on both sides, so "a knot in the back of my neck" reads "back neck".
FILLER: frozenset[str] = _words(
    """
    a an the my mine your his her its our their this that these those some any
    i im ive id me we you he she s they them
    in at of to into from for by with near around across along over up
    just and or but also plus so really very super quite bit little kind sort lot pretty
    is are am was were be been being has have had having got get gets getting do does did
    feel feels feeling felt seems
    knot knots knotted knotty trigger point points spot spots area region part muscle muscles
    sore soreness tight tightness tense tension stiff stiffness ache aches aching achy pain pains
    painful hurt hurts hurting killing killin tender cramp cramps cramping cramped strain
    strained pulled niggle niggly
    left right both one two whole entire
    again still always today lately recently now day days all time times
    there here where when what which how why
    help please need want can could would should will massage massaging work release
    """
)
# Dropped from warning-phrase matching only: "both my legs" reads "both legs".
LIGHT_FILLER: frozenset[str] = _words("a an the my your his her their our any")


_MIN_FUZZY_LEN = 3


YEAR = re.compile(r"(?:19|20)\d\d")


def _cutoff(length: int) -> float:
    """Minimum similarity (0-1, optimal string alignment) to correct a word of ``length`` letters.

    About one typo (a missing, extra, wrong or swapped letter) up to nine letters, two from ten.
    """
    if length <= 4:
        return 0.75
    return 0.79  # 0.8 = one typo in five letters, minus float noise


@dataclass(frozen=True)
class Candidate:
    """One body area the text may mean, with its score (0-100)."""

    area: str
    score: float


@dataclass(frozen=True)
class MatchResult:
    """What one text was understood as.

    ``red_flag`` is a warning sign the text states (stop); ``ask`` one it only possibly
    names (hedged, or next to muscle words; ask one yes/no question). Never both.
    ``denied`` are the warning signs the text rules out ("no numbness").
    When a less urgent sign is stated next to a more urgent possible one ("calf swollen
    after my run": inflamed, maybe a clot), ``ask`` is the urgent one and ``then`` the
    stated one, which applies if the answer is No.
    """

    text: str
    area: str | None
    red_flag: str | None
    score: float
    candidates: tuple[Candidate, ...]
    ask: str | None = None
    denied: tuple[str, ...] = ()
    then: str | None = None  # with ``ask``: a less urgent sign the text states, for after "No"

    @property
    def is_confident(self) -> bool:
        return self.area is not None

    @property
    def is_close_call(self) -> bool:
        return self.area is None and self.red_flag is None and len(self.candidates) >= 2


def to_json_dict(result: MatchResult) -> dict[str, Any]:
    """The result as the JSON object printed by ``knotbot match`` (a contract: docs/matching.md)."""
    return {
        "text": result.text,
        "area": result.area,
        "red_flag": result.red_flag,
        "ask": result.ask,
        "denied": list(result.denied),
        "score": round(result.score, 1),
        "candidates": [{"area": c.area, "score": round(c.score, 1)} for c in result.candidates],
    }


def _fever(match: re.Match[str], said_temperature: bool) -> str:
    whole, tenths, unit = match.group(1), match.group(2), match.group(3)
    value = float(f"{whole}.{tenths}" if tenths else whole)
    celsius = unit in ("c", "celsius")
    fahrenheit = unit in ("f", "fahrenheit")
    measured = celsius or fahrenheit or tenths is not None or said_temperature
    if measured and not fahrenheit and 37.8 <= value <= 43.0:
        return f" {FEVER_TOKEN} "
    if measured and not celsius and 100.0 <= value <= 110.0:
        return f" {FEVER_TOKEN} "
    return match.group(0)


def tokens(text: str) -> list[str]:
    """Lower-case ASCII words of ``text`` with sentence ends (".", "?") and commas as tokens.

    No accents, emoji, apostrophes or other punctuation; a body temperature with a fever
    ("38.5", "101F", "temp 39") becomes :data:`FEVER_TOKEN`.
    """
    text = _ZERO_WIDTH.sub("", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = text.encode("ascii", "ignore").decode("ascii")
    text = _APOSTROPHES.sub("", text)
    if "&" in text or "+" in text:
        text = _AND_SIGNS.sub(" and ", text)
    if _DIGIT.search(text) is not None:
        said = _TEMPERATURE_WORDS.search(text) is not None
        text = _TEMPERATURE.sub(lambda m: _fever(m, said), text)
        text = _DIGIT_DOTS.sub(" ", text)
        text = _DIGIT_LETTERS.sub(" ", text)  # "8kg" -> "8 kg"
    if "." in text or "!" in text or ";" in text or ":" in text or "\n" in text or "\r" in text:
        text = _SENTENCE_ENDS.sub(f" {SENTENCE_END} ", text)
    if "?" in text:
        text = _QUESTION.sub(f" {QUESTION_END} ", text)
    if "," in text:
        text = _COMMAS.sub(f" {COMMA} ", text)
    text = _NON_WORD.sub(" ", text).strip()
    words = text.split()
    present = set(words)
    changed = False
    for triggers, pattern, replacement in _PHRASES:
        if not triggers.isdisjoint(present):
            text = pattern.sub(replacement, text)
            changed = True
    return text.split() if changed else words


def normalise(text: str) -> list[str]:
    """The words of ``text`` (:func:`tokens` without sentence ends and commas)."""
    return [w for w in tokens(text) if w not in BOUNDARIES]


def area_words(text: str) -> list[str]:
    """The words of ``text`` that can name an area (filler dropped), without typo correction."""
    return [w for w in normalise(text) if w not in FILLER]


def _plausible(word: str, target: str) -> bool:
    """A short word is only corrected by adding a letter ("nek" -> "neck"); lengths stay close."""
    if len(word) <= 3:
        return len(target) == len(word) + 1
    return abs(len(target) - len(word)) <= 2


def _alias_key(words: list[str]) -> str:
    """Look-up key of an alias phrase: words joined, each without a plural "s".

    "tops of shoulders", "top shoulder" and "topshoulders" all give "topshoulder".
    """
    return "".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    prefix_last: bool  # the last word ended with "*"
    gap_at: int = 0  # "nothing ... help*": words from here on may follow a few words later


GAP_WORDS = 5  # at most this many words may stand in the gap of a "x ... y" term, in one clause


@dataclass(frozen=True)
class _Pattern:
    flag: str
    priority: int
    groups: int
    muscle_ambiguous: bool
    ask_only: bool
    landmark_ambiguous: bool
    lasting: bool
    ambiguous_with: tuple[tuple[str, ...], ...]  # everyday causes: with one around, only possible


def _group_terms(
    entries: list[tuple[_Term, int, int]],
) -> tuple[tuple[_Term, tuple[tuple[int, int], ...]], ...]:
    """The same term in many patterns ("pain") becomes one entry with all its places."""
    places: dict[_Term, list[tuple[int, int]]] = {}
    for term, pid, gid in entries:
        places.setdefault(term, []).append((pid, gid))
    return tuple((term, tuple(where)) for term, where in places.items())


def _cue_words(raw: str) -> list[str]:
    """The words of a cue or content phrase as the matcher sees them ("a", "the", "my" ignored)."""
    return [w for w in normalise(raw) if w not in LIGHT_FILLER]


def _parse_term(raw: str) -> _Term | None:
    """A warning term: words in order; "x ... y" lets a few words of the same clause stand
    between ("nothing i do helps" for "nothing ... help*")."""
    prefix = raw.strip().endswith("*")
    head, gap, tail = raw.partition("...")
    first = [w for w in normalise(head) if w not in LIGHT_FILLER]
    rest = [w for w in normalise(tail) if w not in LIGHT_FILLER] if gap else []
    if not first or (gap and not rest):
        return None
    return _Term((*first, *rest), prefix, len(first) if gap else 0)


_VOWELS = frozenset("aeiou")


def comparatives(base: str) -> tuple[str, ...]:
    """The comparative and superlative of an English adjective by its spelling rules: red ->
    redder, reddest; puffy -> puffier; sore -> sorer; warm -> warmer, warmest. Longer words take
    "more" ("more swollen"): none."""
    if len(base) < 3 or not base.isalpha():
        return ()
    syllables = len(re.findall(r"[aeiouy]+", base.removesuffix("e")))
    if base.endswith("y") and base[-2] not in _VOWELS:
        stem = base[:-1] + "i"  # puffy, achy, tingly
    elif syllables != 1:
        return ()  # "more painful", "more swollen"
    elif base.endswith("e"):
        stem = base[:-1]
    elif base[-1] not in _VOWELS | {"w", "x", "y"} and base[-2] in _VOWELS and base[-3] not in _VOWELS:
        stem = base + base[-1]  # one vowel before one consonant: red -> redd-er, hot -> hott-er
    else:
        stem = base
    return (stem + "er", stem + "est")


def _phrase_in(words: list[str], phrase: tuple[str, ...]) -> bool:
    """Does ``phrase`` occur in ``words``, word for word?"""
    size = len(phrase)
    return any(tuple(words[k : k + size]) == phrase for k in range(len(words) - size + 1))


def _years_ago(words: list[str], numbers: frozenset[str]) -> list[str]:
    """ "in 2005", "back in 1999", "when i was 20" -> "long ago": a year or an age is when, not how
    long (not "since 2005")."""
    out: list[str] = []
    k, n = 0, len(words)
    while k < n:
        w = words[k]
        if w == "in" and k + 1 < n and YEAR.fullmatch(words[k + 1]):
            if out and out[-1] == "back":
                out.pop()
            out.extend(("long", "ago"))
            k += 2
        elif (
            words[k : k + 3] == ["when", "i", "was"]
            and k + 3 < n
            and (words[k + 3].isdigit() or words[k + 3] in numbers)
        ):
            out.extend(("long", "ago"))
            k += 4
        else:
            out.append(w)
            k += 1
    return out


def _words_at(words: list[str], at: int, expected: tuple[str, ...], prefix_last: bool) -> bool:
    """Do ``words`` from ``at`` on read ``expected``, in order (its last word may be a prefix when
    ``prefix_last``: "numb*")?"""
    if at + len(expected) > len(words):
        return False
    last = len(expected) - 1
    return all(
        words[at + k] == w or (prefix_last and k == last and words[at + k].startswith(w))
        for k, w in enumerate(expected)
    )


def _gapped_end(words: list[str], start: int, term: _Term) -> int:
    """Where a "x ... y" term that starts at ``start`` ends, or 0: the words before the gap in
    order, then (up to ``GAP_WORDS`` words later, in the same clause) the words after it."""
    head, tail = term.words[: term.gap_at], term.words[term.gap_at :]
    if not _words_at(words, start, head, False):
        return 0
    first = start + len(head)
    for at in range(first, min(len(words), first + GAP_WORDS + 1)):
        if at > first and words[at - 1] in BOUNDARIES:
            return 0
        if _words_at(words, at, tail, term.prefix_last):
            return at + len(tail)
    return 0


class Matcher:
    """Matches free text to a body area or a warning sign; build once, call :meth:`match` often."""

    def __init__(self, content: Content) -> None:
        # area aliases: key = alias words joined without spaces ("lowerback")
        alias_areas: dict[str, list[str]] = {}
        self._max_alias_words = 1
        vocab: set[str] = set()

        def add_alias(area_id: str, alias: str) -> None:
            words = area_words(alias)
            if not words:
                return
            key = _alias_key(words)
            areas = alias_areas.setdefault(key, [])
            if area_id not in areas:
                areas.append(area_id)
            self._max_alias_words = max(self._max_alias_words, len(words))
            vocab.update(words)
            vocab.add("".join(words))

        for area in content.areas:
            for part in re.split(r"[(),/;&]| and ", area.name):
                add_alias(area.id, part)
            add_alias(area.id, area.name)
            # the anatomy of areas.yaml names the area too: "rhomboids", "vastus lateralis"
            for muscle in area.muscles:
                for part in re.split(r"[(),/;&]| and ", muscle):
                    add_alias(area.id, part)
        for area_id, aliases in content.aliases.items():
            for alias in aliases:
                add_alias(area_id, alias)
        order = {a.id: i for i, a in enumerate(content.areas)}
        self._aliases: dict[str, tuple[str, ...]] = {
            k: tuple(sorted(v, key=lambda a: order.get(a, 99))) for k, v in alias_areas.items()
        }
        # body parts that are no area here ("bicep", "shin"): an alias of no area
        for part in content.other_parts:
            words = area_words(part)
            if words and _alias_key(words) not in self._aliases:
                self._aliases[_alias_key(words)] = ()
                self._max_alias_words = max(self._max_alias_words, len(words))
                vocab.update(words)

        # warning phrases: index terms by their first word, exact or prefix
        self._patterns: list[_Pattern] = []
        self._exact_terms: dict[str, list[tuple[_Term, int, int]]] = {}
        self._prefix_terms: dict[str, list[tuple[_Term, int, int]]] = {}
        priority = {f.id: i for i, f in enumerate(content.red_flags)}
        for flag_id in sorted(content.warning_phrases, key=lambda f: priority.get(f, 99)):
            for pattern in content.warning_phrases[flag_id]:
                pid = len(self._patterns)
                self._patterns.append(
                    _Pattern(
                        flag_id,
                        priority.get(flag_id, 99),
                        len(pattern.all_of),
                        pattern.muscle_ambiguous,
                        pattern.ask_only,
                        pattern.landmark_ambiguous,
                        pattern.lasting,
                        tuple(tuple(ws) for ws in map(_cue_words, pattern.ambiguous_with) if ws),
                    )
                )
                for gid, group in enumerate(pattern.all_of):
                    for raw in group:
                        term = _parse_term(raw)
                        if term is None:
                            continue
                        entry = (term, pid, gid)
                        if len(term.words) == 1 and term.prefix_last:
                            self._prefix_terms.setdefault(term.words[0], []).append(entry)
                        else:
                            self._exact_terms.setdefault(term.words[0], []).append(entry)
                        vocab.update(term.words)
        self._prefix_lengths = sorted({len(p) for p in self._prefix_terms}, reverse=True)
        self._exact_groups = {w: _group_terms(entries) for w, entries in self._exact_terms.items()}
        self._prefix_groups = {w: _group_terms(entries) for w, entries in self._prefix_terms.items()}
        self._priority = priority
        # someone else's right now still counts for these (an emergency a bystander sees)
        self._for_others = frozenset(f.id for f in content.red_flags if f.for_others)
        # the patterns of the signs that a thing before their word takes over ("my phone fell")
        object_signs = set(content.understanding.objects.signs)
        self._object_pids = frozenset(pid for pid, p in enumerate(self._patterns) if p.flag in object_signs)
        self._next_to = {a.id: frozenset(a.next_to) for a in content.areas}
        self._regions = {
            w: frozenset(inside) for region, inside in content.regions.items() for w in _cue_words(region)[:1]
        }
        # signs about the spot itself (a cut, a rash, a bruise there), not about the zone it is in
        self._spot_signs = frozenset(
            f.id for f in content.red_flags if f.severity is Severity.AVOID_SPOT and not f.place
        )

        # negation and hedges around a mention; muscle words; landmark words
        rules = content.understanding
        self._scope = Scope(rules, _cue_words)
        self._muscle_words = frozenset(
            ws[0] for ws in (_cue_words(m) for m in rules.muscle_context) if len(ws) == 1
        )
        self._muscle_phrases: dict[str, list[tuple[str, ...]]] = {}
        for ws in (_cue_words(m) for m in rules.muscle_context):
            if len(ws) > 1:
                self._muscle_phrases.setdefault(ws[0], []).append(tuple(ws))
        self._idiom_table: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        rewrites = dict(rules.idioms)
        # "haven't been able to feel my toes" is "cant feel my toes": an inability, no denial
        rewrites.update((phrase, "cant") for phrase in rules.negation.inability)
        for phrase, replacement in rewrites.items():
            idiom = tuple(normalise(phrase))
            if idiom:
                self._idiom_table.setdefault(idiom[0], []).append((idiom, tuple(normalise(replacement))))
        for entries in self._idiom_table.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._idiom_firsts = frozenset(self._idiom_table)
        # "redder", "puffier", "hotter": more of a symptom is that symptom - a comparative stands
        # for its base word in warning terms, as well as for itself ("one calf is puffier")
        self._base_of: dict[str, str] = {
            form: base for raw in rules.gradable for base in normalise(raw)[:1] for form in comparatives(base)
        }
        vocab.update(self._base_of)
        self._counts = frozenset(w for raw in rules.durations.counts for w in normalise(raw))
        self._units = frozenset(w for raw in rules.durations.units for w in normalise(raw))
        vocab.update(w for entries in self._idiom_table.values() for p, r in entries for w in (*p, *r))
        self._muscle_nouns = frozenset(w for raw in rules.muscle_words for w in _cue_words(raw)[:1])
        self._described = frozenset(w for raw in rules.described_nouns for w in _cue_words(raw)[:1])
        self._objects = frozenset(w for raw in rules.objects.words for w in _cue_words(raw)[-1:])
        self._directions = frozenset(w for raw in rules.directions for w in _cue_words(raw))
        self._locators = frozenset(ws[-1] for ws in (_cue_words(m) for m in rules.locators) if ws)
        vocab.update(self._scope.vocabulary, self._muscle_words, self._locators, self._scope.clause_starts)
        vocab.update(FILLER)
        self._vocab: frozenset[str] = frozenset(vocab)

        # typo targets by first letter: alias and warning words, not short filler ("fore" is not "for")
        by_letter: dict[str, list[str]] = {}
        for word in sorted(vocab):
            if word.isalpha() and (len(word) >= 4 or (len(word) == 3 and word not in FILLER)):
                by_letter.setdefault(word[0], []).append(word)
        self._vocab_by_letter = by_letter
        self._word_cache: dict[str, tuple[str, float]] = {}
        self._terms_cache: dict[str, tuple[tuple[_Term, tuple[tuple[int, int], ...]], ...]] = {}
        self._result_cache: OrderedDict[str, MatchResult] = OrderedDict()

    # -- words -----------------------------------------------------------------

    def _correct(self, word: str) -> tuple[str, float]:
        """The vocabulary word meant by ``word`` and how sure that is (100 = as typed)."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        result = (word, 100.0)
        if word in self._vocab or len(word) < _MIN_FUZZY_LEN or not word.isalpha():
            pass
        elif word.endswith("s") and word[:-1] in self._vocab:
            result = (word[:-1], 100.0)  # plural of a known word: "calfs" -> "calf"
        elif word not in PROTECTED and not self._has_warning_prefix(word):
            choices = self._vocab_by_letter.get(word[0])
            if choices:
                best = process.extractOne(
                    word, choices, scorer=OSA.normalized_similarity, score_cutoff=_cutoff(len(word))
                )
                if best is not None and _plausible(word, best[0]):
                    result = (best[0], round(100.0 * best[1], 1))
        if len(self._word_cache) < 100_000:
            self._word_cache[word] = result
        return result

    def _has_warning_prefix(self, word: str) -> bool:
        """``word`` already matches a warning term ending in "*" ("drooping" for "droop*")."""
        return any(word[:n] in self._prefix_terms for n in self._prefix_lengths if len(word) >= n)

    # -- warning phrases -------------------------------------------------------

    def _terms_starting(self, word: str) -> tuple[tuple[_Term, tuple[tuple[int, int], ...]], ...]:
        """Warning terms whose first word is ``word`` (exactly, or as a "*" prefix), each with the
        (pattern, group) places it stands in; cached."""
        cached = self._terms_cache.get(word)
        if cached is not None:
            return cached
        found = list(self._exact_groups.get(word, ()))
        if not found and len(word) > 3 and word.endswith("s"):
            found = list(self._exact_groups.get(word[:-1], ()))  # "neck's", "calfs", "shins"
        base = self._base_of.get(word)
        if base is not None:  # "redder": the terms of "red" too
            found.extend(self._exact_groups.get(base, ()))
        for length in self._prefix_lengths:
            if len(word) >= length:
                found.extend(self._prefix_groups.get(word[:length], ()))
        result = tuple(found)
        if len(self._terms_cache) < 100_000:
            self._terms_cache[word] = result
        return result

    def _occurrences(self, words: list[str]) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        """Every warning term in ``words``: (start, end, the (pattern, group) places of the term)."""
        found: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
        for i, word in enumerate(words):
            for term, places in self._terms_starting(word):
                tw = term.words
                if term.gap_at:
                    end = _gapped_end(words, i, term)
                    if end:
                        found.append((i, end, places))
                    continue
                # the first word matched already (exactly, as a prefix, a plural or a comparative)
                if len(tw) > 1 and not _words_at(words, i + 1, tw[1:], term.prefix_last):
                    continue
                found.append((i, i + len(tw), places))
        return found

    def _muscle_context(self, words: list[str]) -> bool:
        if not self._muscle_words.isdisjoint(words):
            return True
        for i, word in enumerate(words):
            for phrase in self._muscle_phrases.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    return True
        return False

    def _signs(self, words: list[str]) -> tuple[dict[str, Polarity], list[Polarity], dict[str, list[int]]]:
        """Each warning sign the text mentions, with how it is meant; each word's polarity; and where
        each sign that is not denied is mentioned (the first words of its terms)."""
        n = len(words)
        occurrences = self._occurrences(words)
        # a warning word that describes the next noun is about that noun: "a hot bath", "cancer
        # research", and so are the shorter terms inside it ("pins" in "the pins and needles club")
        described = [(s, e) for s, e, _ in occurrences if e < n and words[e] in self._described]
        # ... and one right after a thing is what happened to the thing: "my phone fell", "the band
        # snapped", "the bed slats broke"
        described += [
            (s, e)
            for s, e, places in occurrences
            if s > 0 and words[s - 1] in self._objects and self._object_pids.issuperset(p for p, _ in places)
        ]
        if described:
            occurrences = [o for o in occurrences if not any(s <= o[0] and o[1] <= e for s, e in described)]
        masked = [False] * len(words)
        for start, end, _ in occurrences:
            if end - start > 1:  # "cant feel", "no feeling", "didnt help": symptoms, not denials
                for k in range(start, end):
                    masked[k] = True
        polarity, whose, past = self._scope.read(words, masked)
        # only patterns whose every group has a term can match: skip the rest early
        present: dict[int, set[int]] = {}
        for _, _, places in occurrences:
            for pid, gid in places:
                present.setdefault(pid, set()).add(gid)
        complete = {pid for pid, gids in present.items() if len(gids) == self._patterns[pid].groups}
        if not complete:
            return {}, polarity, {}
        spans: dict[tuple[int, int], tuple[Polarity, Whose]] = {}
        groups: dict[int, dict[int, Polarity]] = {}
        starts: dict[int, list[int]] = {}
        for start, end, places in occurrences:
            for pid, gid in places:
                if pid not in complete:
                    continue
                muscle = gid == 0 and end < len(words) and words[end] in self._muscle_nouns
                if muscle and self._patterns[pid].muscle_ambiguous:
                    continue  # "chest muscles sore from dips": the muscle, not the sign
                read = spans.get((start, end))
                if read is None:
                    read = spans[start, end] = (min(polarity[start:end]), max(whose[start:end]))
                term, other = read
                if not self._patterns[pid].lasting and all(past[start:end]):
                    term = Polarity.DENIED  # long over: "sprained my ankle as a teenager" (cancer counts)
                flag = self._patterns[pid].flag
                if other is Whose.FICTION or (other is not Whose.OWN and flag not in self._for_others):
                    term = Polarity.DENIED  # a film's, or someone else's ("my toddler wet himself")
                elif other is Whose.OTHER_PAST:
                    term = min(term, Polarity.UNCERTAIN)  # someone else's stroke now: the advice; once: ask
                if self._patterns[pid].landmark_ambiguous and self._landmark(words, start):
                    term = min(term, Polarity.UNCERTAIN)  # "just above the back of my knee"
                hit = groups.setdefault(pid, {})
                hit[gid] = max(hit.get(gid, Polarity.DENIED), term)
                if term is not Polarity.DENIED:
                    starts.setdefault(pid, []).append(start)
        signs: dict[str, Polarity] = {}
        where: dict[str, list[int]] = {}
        muscles: bool | None = None
        for pid, hit in groups.items():
            pattern = self._patterns[pid]
            if len(hit) < pattern.groups:
                continue
            mention = min(hit.values())
            if pattern.ask_only:
                mention = min(mention, Polarity.UNCERTAIN)
            if pattern.muscle_ambiguous and mention is Polarity.STATED:
                if muscles is None:
                    muscles = self._muscle_context(words)
                if muscles:
                    mention = Polarity.UNCERTAIN
            if mention is Polarity.STATED and any(_phrase_in(words, c) for c in pattern.ambiguous_with):
                mention = Polarity.UNCERTAIN  # "numb bum from sitting all day": ask, don't stop
            signs[pattern.flag] = max(signs.get(pattern.flag, Polarity.DENIED), mention)
            if mention is not Polarity.DENIED:
                where.setdefault(pattern.flag, []).extend(starts.get(pid, ()))
        return signs, polarity, where

    def _elsewhere(
        self, starts: list[int], kept: list[tuple[str, float]], polarity: list[Polarity]
    ) -> tuple[set[int], bool] | None:
        """Is a sign about a spot (a cut, a rash, a bruise) named on another body part than the knot?
        "Cut my finger, the knot is in my forearm" and "rash on my arm but the knot is in my lower
        back" are; "a cut right on the knot in my calf" and "a rash on my calf, knot in my calf"
        are not. Its clauses must name a body part, and the rest of the text an area they do not.
        Returns the words of its clauses and whether the area they name borders the knot's (then
        the rash may reach the knot: ask), or None when the sign may be at the spot."""
        ends = BOUNDARIES | self._scope.terminator_words
        n = len(kept)
        inside: set[int] = set()
        for start in starts:
            first, last = start, start
            while first > 0 and kept[first - 1][0] not in ends:
                first -= 1
            while last < n and kept[last][0] not in ends:
                last += 1
            inside.update(range(first, last))
        there = [kept[k] if k in inside else (COMMA, 100.0) for k in range(n)]
        rest = [kept[k] if k not in inside else (COMMA, 100.0) for k in range(n)]
        knot = self._areas(rest, polarity)
        if not knot:
            return None
        named = {area for area, _, _ in self._areas(there, polarity)}
        for word, _ in there:
            named |= self._regions.get(word, frozenset())  # "hives on my legs": any area of the legs
        if not named and not self._names_other_part([w for w, _ in there]):
            return None  # "a cut, knot in my calf": the cut may be right on it
        if knot[0][0] in named:
            return None
        return inside, not named.isdisjoint(self._next_to[knot[0][0]])

    def _names_other_part(self, words: list[str]) -> bool:
        """Does ``words`` name a body part that is no area here ("finger", "shin", "nose")?"""
        keys = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in FILLER]
        return any(
            self._aliases.get("".join(keys[i : i + size])) == ()
            for i in range(len(keys))
            for size in range(1, min(self._max_alias_words, len(keys) - i) + 1)
        )

    # -- areas -----------------------------------------------------------------

    def _landmark(self, words: list[str], start: int, floor: int = -1) -> bool:
        """Does a locator ("below", "next to", "under") stand just before ``words[start]``?

        It looks back at most :data:`LANDMARK_REACH` words, and not past ``floor`` (the last word
        of a body part named before: "below my elbow on top of my forearm" locates the elbow).
        """
        k = start - 1
        while k > floor and start - k <= LANDMARK_REACH:
            w = words[k]
            if w in BOUNDARIES:
                return False
            if w in self._locators:
                return True
            k -= 1
        return False

    def _part_of_next(
        self, items: list[tuple[str, float, int]], keys: list[str], plain: list[str], k: int, end: int
    ) -> bool:
        """Does the direction word ``items[k]`` begin an alias with what follows "of" after it?"""
        word, _, at = items[k]
        if word not in self._directions or at + 1 >= len(plain) or plain[at + 1] != "of":
            return False
        return any(
            "".join(keys[k : k + size]) in self._aliases
            for size in range(2, min(self._max_alias_words, end - k) + 1)
        )

    def _areas(
        self, words: list[tuple[str, float]], polarity: list[Polarity]
    ) -> list[tuple[str, float, float]]:
        """Areas named in ``words`` (corrected) as (area, support, score), best first.

        Support adds up the alias phrases naming the area: "thigh near the hip" names
        outer_thigh twice (thigh, hip) and the other thigh areas once. A phrase after a
        locator ("below my neck"), and a direction word on its own ("my neck, at the back"),
        only locate and count half; one inside a denial ("no
        pain down my leg") does not count unless nothing else names an area.
        """
        plain = [w for w, _ in words]
        items = [(w, s, i) for i, (w, s) in enumerate(words) if w not in FILLER]
        support: dict[str, float] = {}
        scores: dict[str, float] = {}
        denied_support: dict[str, float] = {}
        denied_scores: dict[str, float] = {}
        named_head: set[str] = set()  # areas named as the place itself, not only as a landmark
        floor = -1  # the last word of the body part named before
        other_part = False  # "a knot in my bicep, near my elbow": the place is no area here
        keys = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w, _, _ in items]
        # an alias never spans a comma or a sentence end: index of the next boundary from each word
        stop = [len(items)] * len(items)
        nxt = len(items)
        for k in range(len(items) - 1, -1, -1):
            if items[k][0] in BOUNDARIES:
                nxt = k
            stop[k] = nxt
        i, n = 0, len(items)
        while i < n:
            for size in range(min(self._max_alias_words, stop[i] - i), 0, -1):
                window = items[i : i + size]
                areas = self._aliases.get("".join(keys[i : i + size]))
                if areas is None:
                    continue
                if size > 1 and self._part_of_next(items, keys, plain, i + size - 1, stop[i]):
                    i += size - 1  # "the middle of the back of my thigh": the back of the thigh
                    break
                score = min(s for _, s, _ in window) - AMBIGUITY_PENALTY * (len(areas) - 1)
                first, last = window[0][2], window[-1][2]
                denied = min(polarity[first : last + 1]) is Polarity.DENIED
                direction = size == 1 and window[0][0] in self._directions  # "at the back"
                if direction and last + 1 < len(plain) and plain[last + 1] == "of":
                    i += size  # "the back of my arm": a side of a part that is no area here
                    break
                landmark = self._landmark(plain, first, floor)
                floor = last
                if not areas:
                    other_part = other_part or not landmark
                    i += size
                    break
                weight = LANDMARK_WEIGHT if direction or landmark else 1.0
                if weight == 1.0 and not denied:
                    named_head.update(areas)
                into_support, into_scores = (denied_support, denied_scores) if denied else (support, scores)
                for area in areas:
                    into_support[area] = into_support.get(area, 0.0) + weight
                    into_scores[area] = max(into_scores.get(area, 0.0), score)
                i += size
                break
            else:
                i += 1
        if other_part:
            scores = {a: sc for a, sc in scores.items() if a in named_head}
        if not scores:
            support, scores = denied_support, denied_scores
        ranked = sorted(scores, key=lambda a: (-support[a], -scores[a]))
        return [(a, support[a], scores[a]) for a in ranked if scores[a] >= MIN_AREA_SCORE]

    # -- public ----------------------------------------------------------------

    def match(self, text: str) -> MatchResult:
        """Read one utterance: a warning sign, a confident area, a close call or nothing."""
        cached = self._result_cache.get(text)
        if cached is not None:
            self._result_cache.move_to_end(text)
            return cached
        result = self._match(text)
        self._result_cache[text] = result
        if len(self._result_cache) > _CACHE_SIZE:
            self._result_cache.popitem(last=False)
        return result

    def match_uncached(self, text: str) -> MatchResult:
        """:meth:`match` without the per-text result cache (per-word look-ups stay cached)."""
        return self._match(text)

    def clear_caches(self) -> None:
        """Forget cached results, word corrections and warning-term look-ups (for benchmarks)."""
        self._word_cache.clear()
        self._terms_cache.clear()
        self._result_cache.clear()

    def _durations(self, words: list[str]) -> list[str]:
        """A count before a time unit goes: "for 6 weeks" is "for weeks", "two months now"
        is "months now" (how long, not how many); a year is a time point: "surgery in 2005"
        is "surgery long ago"."""
        if "in" in words or "when" in words:
            words = _years_ago(words, self._counts)
        if self._units.isdisjoint(words):
            return words
        n = len(words)
        return [
            w
            for k, w in enumerate(words)
            if not (k + 1 < n and words[k + 1] in self._units and (w.isdigit() or w in self._counts))
        ]

    def _idioms(self, words: list[str]) -> list[str]:
        """Idioms that only look like a warning sign become plain words ("fell asleep" -> "slept")."""
        if self._idiom_firsts.isdisjoint(words):
            return words
        out: list[str] = []
        i, n = 0, len(words)
        while i < n:
            for phrase, replacement in self._idiom_table.get(words[i], ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    out.extend(replacement)
                    i += len(phrase)
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    def _match(self, text: str) -> MatchResult:
        corrected = [self._correct(w) for w in self._idioms(self._durations(tokens(text)))]
        kept = [(w, sc) for w, sc in corrected if w not in LIGHT_FILLER]
        words = self._scope.split_clauses([w for w, _ in kept])
        kept = [(w, sc) for w, (_, sc) in zip(words, kept, strict=True)]
        signs, polarity, where = self._signs(words)
        for flag in self._spot_signs.intersection(where):
            verdict = self._elsewhere(where[flag], kept, polarity)
            if verdict is not None:
                # "cut my finger, the knot is in my forearm", "a rash on my chest, knot in my calf":
                # not at the spot; on an area next to the knot's ("sunburnt shoulders, my traps are
                # in knots") it may still reach it: ask
                elsewhere, next_to = verdict
                if next_to:
                    signs[flag] = min(signs[flag], Polarity.UNCERTAIN)
                else:
                    del signs[flag]
                kept = [(COMMA, 100.0) if k in elsewhere else item for k, item in enumerate(kept)]
        stated = [f for f, p in signs.items() if p is Polarity.STATED]
        unsure = [f for f, p in signs.items() if p is Polarity.UNCERTAIN]
        ask = min(unsure, key=self._rank) if unsure else None
        if stated:
            flag = min(stated, key=self._rank)
            if ask is None or self._rank(flag) < self._rank(ask):
                return MatchResult(text, None, flag, 100.0, ())
            # a more urgent sign is only possible: ask about it first, then this one applies
            return MatchResult(text, None, None, 100.0, (), ask, (), then=flag)
        denied = tuple(sorted((f for f, p in signs.items() if p is Polarity.DENIED), key=self._rank))
        ranked = self._areas(kept, polarity)
        if not ranked:
            return MatchResult(text, None, None, 0.0, (), ask, denied)
        top_area, top_support, top_score = ranked[0]
        if len(ranked) == 1:
            return MatchResult(text, top_area, None, top_score, (), ask, denied)
        _, second_support, second_score = ranked[1]
        if top_support > second_support or top_score - second_score >= CONFIDENT_MARGIN:
            return MatchResult(text, top_area, None, top_score, (), ask, denied)
        close = tuple(Candidate(a, sc) for a, _, sc in ranked[:MAX_CANDIDATES])
        return MatchResult(text, None, None, top_score, close, ask, denied)

    def _rank(self, flag: str) -> int:
        """Screening order: the most urgent sign first."""
        return self._priority.get(flag, 99)


# -- protected words ---------------------------------------------------------------
# English words within a typo of an alias or warning word. They are never "corrected":
# "but" is not "butt", "waist" is not "wrist", "stuck" is not "struck", "scalp" is not
# "scald". Generated from Debian's wamerican-small word list (common words): every word
# that the typo correction would turn into a different (non-filler) vocabulary word,
# except plain inflections of it (+s, es, d, ed or e: "calve" -> "calves" stays
# allowed, "boot" -> "booty" does not) and rare words
# (wordfreq Zipf frequency below 2) whose correction is an area word that no warning
# term uses: "gluts" and "napes" are far more likely "glutes" and "nape" here.
# Regenerate when aliases or warning terms grow (docs/matching.md says how).
PROTECTED: frozenset[str] = _words(
    """
    abide abler ably abode abort abound accidents ace aces ached acing acne acre acres acting acts
    aesthetic age aged agent aground aide aims airy ale ales allays alms alone alter alto amble amir
    among ample anaesthetic anesthetic anesthetics angle angles ankles ant ants apes appetites apply
    apter arc arched archer archers arching arcs ardent areas arena ares aria arise arks army arose
    arts ashed ashes ashing askew asks attach attacks awaked awaken awakes aware awes awoke awry
    axes axle ayes babe babes babied babier babiest backed backing backlog backlogs backs badder
    bade badge badger bagged bail bailing bait bake bald balder baldest bale balk balks balls balm
    ban banded bands bandy bang bani bank banked banks banned bans bar bard bare bareback barged
    bark barks barley barn barns baseball based baser bases bash bask basks bass baste bath batter
    baud bawl bay beach beaching bead beak beam bean beard bears beast beat beater bedder bedsides
    bee beech beef beer bees beet beings belch belching bell bellow bells bend bent berth best bet
    beta betted betters bettor bide biked bikes biking bile bill bind binder binding birch bite bits
    bitter blacken blackening blacker blackhead blackheads blacks bladders blame blames bland
    blander blank blanked blanking blare blaster blaze blazes bleak bleat bled blend blending blends
    blew blink blinking blob bloc block blocked blocking blog blond bloods bloody bloom blot blots
    blown blows blued bluer blues blur blurb blurs blurt blurted blush bluster blusters boar boars
    boas boat boats bobs bode bodes bogs boils bolt bolts bond bondage bonds boned boney bonus bony
    boo booby book books boom booms boon boons boor boors boos boost boosts boot booth booths boots
    bore bores born borne bossy botch bother bottoms bout bouts bow bowed bowl bowling bowls bows
    boxes boy boys braid brainy braise braised braises braising brake braking bran brand brat brawn
    breach breached breaches breaching bread breading breadth breadths breaks breathed breather
    breathers breathes breaths bred breed breeding breeds brew bring brink brinks brisk bristle
    brittler broil broiling broker brood brook broth brow brunt buck bucks budded budget buds bug
    bugged bugger bugs bulb bulk bull bully bummed bumper bumps bums bun bunch bunching bung bunk
    buns buoy buried burner burp burped burping burps burr burred burring burrs burst bury burying
    bush bust busting busy buts butte butter butts buys cabled cabs caches caching cage cagey cagy
    cake calfs calk calked call caller calm calmed cam camel cameo camp camped camping camps cancel
    cancers cane canker cans canter cape caps card care carp cars cart carts carves case cash cashed
    cask cast caste cat catchy cats cause cave caves caws cease cent chain champ champed champing
    champs chance chanced changes chant chanted chants char charge charged charms chars chase chat
    chats cheat check checks cheep cheeping cheer cheers chess chests chi chic chick chid chile
    chiles chili chilis chilli chilly china chink chip chirp chore chose circled clacked clam clamp
    clamped clamping clamps clams clang clanged clap clash clashed clasp clean cleaned clearer cleat
    cleaved click clinch clinching clink clod clods clog clogs clone closet cloth clothed cloths
    clout clouts clove clover cluing clump clung coast coat coats coax cod code codes coding coil
    coin coke cokes coking col cold collage collarbones collars collides collisions collusion
    colored colt colts coma comas comb combing combs comet comets comings commuter compares complete
    completed completer completes completest compute computed computes concerted concession
    concessions conclusion concussions cone cones confession constancy constants constraint
    constricts construct constructs consultant contestant controls convulsion cooing cook cooked
    cooking cool cop coped copes coping cops copy coral cord core cores coring cornea corned cornet
    cornier coroner cost cot cots couch couched couching coughs coup cove coves coveted cowered
    cowing crab crack cracker crackled cradling crag crammed cramming crams cranked crap crashes
    crass crawl crawls craze create creed creeds creek creeks creepy crepes crest cribs crimes
    crises croak croaked crock croon crooned crop crouch crust crusted crusting crusts crutch cubs
    cues cuffs cuing culled cult cults cums cups curt cute cyst czar dabs dad dads dais damages dame
    dams dank dare daring darn dart data dawn daze deaf deal dealt dean dear debt debts decide
    decides deck decode decodes deed deem deeps deer deference defies deft defy deli deliberate
    deliberated deliberates delis delta deltas den denied denims dens dent dents derive despise die
    died dies different differently digs dill dims dirt disappears discomforted discomforts disk
    dive doe doer doers dogs doles doling doll dome domes doming don done donor dons donut doom
    dooms dopes doping dos dose doses dosing dot dote dotes doting dots doubly doubted doubting dour
    doves downs downy dozes dozing drab drank draw dread dregs drenches dressy drink drip dripped
    dripping drivel driven driver droll drool droops droppings drops dross drove drown drug drys
    dual dude duding duel dues duet duke dully duly dune dunk dupe duping duress dusk dusty dwelt
    dyes dying earl earls earn earns ease easing eats eery elbows elector electors electronic ends
    enema entice equine eras errs etch eve even event every eves excerpt excised excising excites
    exited expediting expert explored extensions extremer extremes eyelids faced faces facet facials
    fact fade fades fail failing fails fair fake faked falls falter fame famed farce fare fared
    faring farm farther faster fate fated fatten fattier faze fazed fear fearing feat feather
    feathery fee feed feeder feeding feeds feelings fees feint felling fells felts fend fended ferry
    fetter feverishly fevers fewer fiend fight fights file files fill filling fills filly filmy
    finance fined finer fingers fins firearm firearms firm firms firs fist fitter five fiver fizz
    fizzling flake flaking flame flaming flatter flawing flea fled flee fleet flesh flew flex
    flighty fling flint flip flit flog flood flow flue flues flurry flux folk folly fond fonder font
    food fool fooling foots ford fore forge form fort forte fractures freer fret fried fright
    frights frizzy fro frog frond fronts frost frying fuel fueling fuels full fulling fully fulness
    functional fund furl fury fuzz fuzzing fuzzy gage gale game gamer gape gaping garb garbs gas
    gashing gasp gassing gastric gate gavel gaze gazed gees gems gene genera generality genial
    genies genitals gents genus gibe gibes gibing gill given givens glaze glazed globes gloved
    gloving glow glowing glows glue glues gnash goad goat gobs god gods gold goner gong goody goof
    goon gore gores goring gosh grab grace graced grade graded grain gram grant grape grasping grate
    grated grave graved gray grayed grazes greed greet grew grid grim grin grinning gripe grips grit
    groan groins groping gross groves grown guest guests gush gut guts gutting hag hags hail hale
    haled haling hall hallway halo halt halve halving ham hamstrung handing handler handy hang
    hanger hangs harden hardier hardiest hardy hare hared haring hark harm harms harp hart harts
    harvest hat hate hating hats hatting haunt haven havens haves haying hays haze hazing hazy
    header headier headiest heading heads heady heal healer heals heap heaped heaping heaps hear
    heard hearing hears hearth hearts hearty heated heath heating heats heave heaved heavies heaving
    heed heeded heeled heeling held hell hello helm helms helper helpings hemp hems hens herb herd
    herded hero hers hes hews hide hides hiding highs hiker hikes hill hilly hilt hind hinds hinging
    hint hinting hire hires hiring hiss hither hits hived hiving hoard hoarder hoarse hobby hoed
    hoes holds hole holed holy hood hoods hoofs hooks hoot hooter hoots hops horde horrendously
    horribly horses hose hospitable host house hove hows hues huger hull hums hunches hung hunt
    hunter hunting hunts hurl hurling hurls hut huts iced ices icon ideal ikon impacts impart
    impinges improves improvised improvising inane inaner incense inch infections infects infer
    infest infested inflames inflammations inflated inflation inflection inflections info
    information infraction inhales inject injected injection injections injunction ins insaner
    insect insider inspection intenser intentional inter internationally intolerably intolerance ion
    irons irony irritant jabs jams jars jays jell jells jest jigging join joins joints jolly jugging
    jumbo junk jury jut jute juts karat keel keels keen keens kegs kelp keyholes kid kill killings
    kills kiln kilning kilns kilt kilts kin kinda kinds king kink kinked kinking kinks kiss kits
    kneed kneel kneels knew knit knits knitted knob knobs knocker know known knows laborer labs lace
    lacerating lacerations lacy lad ladders lade laded lads lady lager lags laid lain lake lamb lamp
    lanced lander lane lapped laps lapses lard larded large larges lark lash lass last lasts late
    laterals lath lathe laud lauded lava law laws laying lays lazy lead leading leads leaf leafing
    leaks lean leaning leap leaping leases leasing least leaved leaving leek lefts legged legging
    lend lens lent lept less lest let lets levee lever liberation lice lick lieu life lifts
    lightening lighting lightninged lightnings liken liker lilt lilted lilting limbs lime limp linen
    liner linger link lint lion lions lisp list listed listing lit literal littler live lived living
    loafs loan loans loaves lobe lobs lock lodger loft lofted lofting log logged logger logging logo
    logs lone longed longs loom loon loons loop loosen looser loosing loot lope loped loping lops
    lords lore lose loser loses lots louse love lover loving lowed lowers lowing lows lucky lugged
    lugging lugs lumber lumps lung lurk lust mace maces macing made mads maid main majors maker
    makers male males man mane manes mangy manly manor mans maps mar mare mares maria marking mars
    marsh mart marts mash mask masking masks massacring massaged massages massed mast master masts
    match mate mates math mating mats matt matte matted mattes matts maxims maximum maximums may
    mayor maze mazes meats meddle meddled medias mediation medicating meditation meditations medium
    mediums melts mend mends meow meowing mere mes meshed mess message messes mete metes mewing mews
    mice middles mien mighty mike miked mikes miking mild mile milk mill mime mimed mince mind mined
    miner mines minibus minimum minimums mink minors mint minuet minuter mire mired misled miss
    missed misses mist misted misused mite mites mixer mixes moaning moat mode modes moist mold mole
    moles molt mooed mooing mooning moose moot mope moped mopes moping more morn moss moth moths
    mourning mousse mousy mouths moved mover movers moves movie movies mowed mowing muck muddied
    muddle muddles mulch munch muscled muse mush muss mussed must mute mutes mutter name nap naps
    nasal naval navel nearby nears neat neatly necked needled needless needs needy negatively
    neighborly neon nerved newer newt nice nicer niche nick nickel nicks niece nigh nights nines
    nite node noes noisy none noose norm nose nosey nosy notching note nothings noting noun novices
    numbs offs oily omen ones opens operates operational operations otter ounce ours oust ouster
    outed outs outsider outsides ovens overcoming overdosing overs overt overwhelmingly oxen pack
    packs pact pacts pads paid pail pails paint painted paints pair pairs pal pale pall palled palls
    pals pan pane panes pang pangs pans pant pants panty par parch parches pare parenthesis pares
    park parks pars parsed parsing partly party passer passes past pasta pasted pasting pasts
    pasture pasty pat patched patchy path pats patting paused pausing pawn pawns paws pays peaks
    peal pealing peas pease peat peek peeking peeks peel peep peeping peer peering peeving pegs pelt
    pend pens pepped pepping perks persisted persistence persistently persisting pert pest pets
    petting petty pews phoney phony physic pick picks picky piecing pies pigs piles pilled pin pine
    pines pink pinks pint pints pis pitch pitched pitches pits pity pitying place plain plains
    planar planet plank plans plant planter plants plate pleased pleases pled plop plopped plopping
    pluck plug plugs plum plumb plump plumped plums plush poet pointer poked poking poled poling
    polled polls polo pomp ponds pool pooled pooling poops poor pop poppy pored poring port ports
    pose posed posing posts posy pot pots potting pouncing pout pouted pressured pressures preys
    prick pricks primate primates print printed prints privater privatest privatizes probable
    problems processing professing prone prop propped propping prostrate prostrated prostrates
    provably psalm pucks puff puffer puffs pulley pulls pulped pulsed punch punches punk puns punt
    punts pupped pupping pups purpler purples push pushy puss puts putt putting qua quay quays quiet
    quits quote racking radial radiant raging raided railed rain rained raises raking rally rang
    rank rant raping rapped rapping raring rasher rashest rasp rating raving razing read reader real
    realty ream reap reared rears recant reconstructing recoveries rectum recurrence redden redo
    redress reds reed regent regions regularity released releases relent relied relies removes rend
    render rent renting repaid repent replacements replaces resent reset resolver resolves revolved
    ribbed rice ricing rider rids rife rights rigs rile riled rims rinds rinks ripe rippled rippling
    rips rise rite roam roar robbed robs rod rode role roof rook roomy root rope roped ropes rosy
    rotund rubber rubs rudder rude rued rues rugs ruin ruining ruins ruler rules rums run rune runes
    rung rungs runt runts rush rushes rust rusting ruts sack sacked sacks sacred sacs sad sadden
    saddled saddles sades safe sage sags sail sailed sake sale sales sallow salt same sand sanding
    sane sang sapped save saving sawn saying scabbing scale scaled scalloping scalp scaly scan scans
    scant scanted scar scares scarfed scarred scars scold scoot scooted scooting score scored scorer
    scorn scout scouted scram scrapes scrapped scraps scratches scratchier scratching screeching
    scum scurry seam seams seared seat seating seats seeding seeds seek seeking seeks seeming seen
    seep seeping seeps seer sees seize seizes sell selling sells sensational serenading serves
    setting settler settlers settles severed severer severs sewing sexing shack shacks shading shaft
    shafted shafts shaking shall shallow shame shaming shammed shaping share shared sharing shark
    sharps shaver sheep sheers shell shelled shelling shells shes shied shies shifty shimmering
    shine shines shingled shinning shiny ship shipped ships shirt shirted shirts shivers shod shoed
    shone shoo shooing shook shoon shoos shoots shop shopped shops shore shores shorn shorted
    shorting shorts shot shots shouldered shout shouting shove shoves shoving show shown shows showy
    shred shriveling shrugging shuck shucks shun shuns shunt shut sic sicking sics sided sides sidle
    sidles sift sifted sifting sifts sigh sighs signs silk sill silt silting simile similes simmer
    sin sine sing singe singes singles singly sings sink sinks sinning sins sinus sipped sire sires
    siring site sites siting sitter sixes size sizer sizes skein sketching ski skid skill skilled
    skim skimmed skimming skimped skinning skins skip skipped skipper skis skit skulk skulls slab
    slabbing slabs slacked slag slaked slam slamming slapped slash slashed slat slated slaving slay
    slaying slays sled sleek sleeking sleeps sleepy sleet sleeting sleets slick slicking slicks slid
    slide slides slim slimmed slimmer slimming slings slip slipper slit slitting sliver slivering
    slop slope slopped slot slots slow slug slugs slum slummed slummer slumming slums slurs slut
    sluts smack smalls smart smashes smell smelled smelling smells smiled smiles smit smite smites
    smock smocked smocks smoulder smuggling smut snack snacked snag snagging snaked snared sneak
    sneaking snide snider sniff snip snipped snitch snitches snore snort snorts snot snots snout
    snow snuggling soak soaks soaped soared sober sock socked socks sodden sofa soft sold soled soli
    solo solos solve solves somethings song soon soot sop sopped sorer sores sorta sorts sour sourer
    sourest sours sow sown spa span spank spanning spans spar spared sparing spas spat spats spawn
    spay spaying spays speaks spear spearing speck specking sped spell spelled spelling spells spelt
    spice spiders spies spike spill spines spins spiral spiralling spire spit spite spits spitting
    split spoiled spoilt spore spores sport sports spout spouted spouts sprains sprang spreads
    spreed sprig springy sprint sprung spun spur spurred spurring spurs spurt spurts spying squad
    squads stab stabling stabs stack stacked stacking stacks staff stag staid stain stained stains
    staked stall stands stank star stare stared stark stars stave staving stay staying stays steak
    steal steamy steep steeping steeps stem stems step stepped stew stews sticky stiffed stiffen
    stiffs stilled stilling stills stings stink stinking stinks stirs stitched stock stocking stocks
    stoke stokes stole stolid stomp stomped stone stoney stony stool stoop stooped stopper store
    stout stoves stow straggle straggling straighten straighter strainer strains strait strand
    stranding stranger strangle strangling straw stray streaming strengthen strengths strike strikes
    string strip strode stroked strove stub stubbing stubble stuck stuff subsides subsidized suck
    sucks suction sue sued sues suit summed sunburns sung sunk superb supers supper sure surer
    surest surf surge surgeons swab swabbing swabs swam swan swapped swat swats sway sways swear
    swearing swears sweaty sweep sweeping sweet sweets sweller swellings swept swift swifts swig
    swill swilled swilling swills swine swings switch switches swivelling swore swum symptoms tables
    tack tacked tacking tackles tacks taken taker takes taking talc tale tales talker talks tall
    tally tame tames taming tan tank tanked tanking tanks tap tape taping tapped taps tar tars task
    tasked tasking tasks taxing tea teach teak teaks team teaming teams teas tease teasing teat
    teats tee teed teem teems teen tees temperate temperatures tempi tempo temporal tempt tend
    tended tenders tenor tens tensed tenser tenses tensions tensors tent tenth terms terribly terse
    test texts than thank thanks thaw thaws thee theirs theme themes then theses thick thicken
    thicket thinker thinking thinks thinned thins thirstiest thirtieths thong thongs thorn thorough
    threads threat three threes throbs throw thump thus thy tick tickled tide tided tides tie tied
    ties tightens tighter tights tile tiled tiles tiling till tilling tills timed timer timers tin
    tinder ting tinge tings tinning tins tinting tints tip tipped tipping tips tire tired tires
    titling tits toad toddle toddled toddles toed toiled toilets token toll tolls tome tomes ton
    tone tones tons tool toot torch torching tore toss tote totes tots touchy tough town tows toying
    toys tracing track trail trailed trailing trainee trainer trait tramp tramped tramps trapper
    trapping travels tray trays tread tree treed trees trick tricking tries triggers trim trimesters
    trio trip tripled tripling trips troubled troubles trough truce trucking trued truing trunk tsar
    tsars tuck tumbler tumors tuned turfed turn turner tusk tutor twentieths twigs twin twine twines
    twinning twister twos tying tzar tzars udder ulcers unbearably unbeatable unbreakable undersides
    understate understated understood unit unreadable upped uppers ups urinates usable user uses
    vain vary vase veil veils verb vie vies vile vine visa voice wade wades wading wafer waft wage
    wager wages waging wail waist waists wait waiter waked waken wakens walker walking walks wall
    walled walling wan wand wander wandering wane wanes waning wants war ward warded warding wards
    warier wariest warmer warming warms warn warned warnings warp warped warping warred warring wars
    wart wary waters watery watt wave waver waves waving wavy waxes waxing waxy ways wean weaning
    wear weary wearying weaver weaving weed weeding weeds weedy week weep weeps weer wees weigh
    weighs weights weighty weirdo weld well welt welting went wept west wets whale whats wheat whens
    wheres wherever whet whetting whew while whine white wholes whore whose whys wide widen widow
    width wild wilder wills wilt wily winced wine wined winged winked winner wintery wipe wiper
    wipes wire wired wiry wise wiser wish wist wit witch wits witting wive wobble woe wok woken woks
    women won woo wood woods woody woof wooly woos worded wording wordy wore worker world worlds
    worm wormed worming worms worn worries worsen worsts wot woulds wove woven wrapper wreak wren
    wrenches wrest wrests wretched wriest wright wring writ writs wrung yearn yearns yell yeti yours
    yous zinc
    """
)
