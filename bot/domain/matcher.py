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

from bot.domain.content import Content
from bot.domain.scope import BOUNDARIES, COMMA, QUESTION_END, SENTENCE_END, Polarity, Scope

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


@dataclass(frozen=True)
class _Pattern:
    flag: str
    priority: int
    groups: int
    muscle_ambiguous: bool
    ask_only: bool


def _cue_words(raw: str) -> list[str]:
    """The words of a cue or content phrase as the matcher sees them ("a", "the", "my" ignored)."""
    return [w for w in normalise(raw) if w not in LIGHT_FILLER]


def _parse_term(raw: str) -> _Term | None:
    prefix = raw.strip().endswith("*")
    words = [w for w in normalise(raw) if w not in LIGHT_FILLER]
    if not words:
        return None
    return _Term(tuple(words), prefix)


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
        self._priority = priority

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
        for phrase, replacement in rules.idioms.items():
            words = tuple(normalise(phrase))
            if words:
                self._idiom_table.setdefault(words[0], []).append((words, tuple(normalise(replacement))))
        for entries in self._idiom_table.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._idiom_firsts = frozenset(self._idiom_table)
        vocab.update(w for entries in self._idiom_table.values() for p, r in entries for w in (*p, *r))
        self._muscle_nouns = frozenset(w for raw in rules.muscle_words for w in _cue_words(raw)[:1])
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
        self._terms_cache: dict[str, tuple[tuple[_Term, int, int], ...]] = {}
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

    def _terms_starting(self, word: str) -> tuple[tuple[_Term, int, int], ...]:
        """Warning terms whose first word is ``word`` (exactly, or as a "*" prefix); cached."""
        cached = self._terms_cache.get(word)
        if cached is not None:
            return cached
        found = list(self._exact_terms.get(word, ()))
        for length in self._prefix_lengths:
            if len(word) >= length:
                found.extend(self._prefix_terms.get(word[:length], ()))
        result = tuple(found)
        if len(self._terms_cache) < 100_000:
            self._terms_cache[word] = result
        return result

    def _occurrences(self, words: list[str]) -> list[tuple[int, int, int, int]]:
        """Every warning term in ``words``: (start, end, pattern, group)."""
        found: list[tuple[int, int, int, int]] = []
        n = len(words)
        for i, word in enumerate(words):
            for term, pid, gid in self._terms_starting(word):
                tw = term.words
                if len(tw) > 1:
                    if i + len(tw) > n:
                        continue
                    last = len(tw) - 1
                    ok = True
                    for k in range(1, len(tw)):
                        w = words[i + k]
                        if not (w == tw[k] or (k == last and term.prefix_last and w.startswith(tw[k]))):
                            ok = False
                            break
                    if not ok:
                        continue
                found.append((i, i + len(tw), pid, gid))
        return found

    def _muscle_context(self, words: list[str]) -> bool:
        if not self._muscle_words.isdisjoint(words):
            return True
        for i, word in enumerate(words):
            for phrase in self._muscle_phrases.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    return True
        return False

    def _signs(self, words: list[str]) -> tuple[dict[str, Polarity], list[Polarity]]:
        """Each warning sign the text mentions, with how it is meant; and each word's polarity."""
        occurrences = self._occurrences(words)
        masked = [False] * len(words)
        for start, end, _, _ in occurrences:
            if end - start > 1:  # "cant feel", "no feeling", "didnt help": symptoms, not denials
                for k in range(start, end):
                    masked[k] = True
        polarity = self._scope.polarities(words, masked)
        if not occurrences:
            return {}, polarity
        groups: dict[int, dict[int, Polarity]] = {}
        for start, end, pid, gid in occurrences:
            muscle = gid == 0 and end < len(words) and words[end] in self._muscle_nouns
            if muscle and self._patterns[pid].muscle_ambiguous:
                continue  # "chest muscles sore from dips": the muscle, not the sign
            term = min(polarity[start:end])
            hit = groups.setdefault(pid, {})
            hit[gid] = max(hit.get(gid, Polarity.DENIED), term)
        signs: dict[str, Polarity] = {}
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
            signs[pattern.flag] = max(signs.get(pattern.flag, Polarity.DENIED), mention)
        return signs, polarity

    # -- areas -----------------------------------------------------------------

    def _landmark(self, words: list[str], start: int) -> bool:
        """Does a locator ("below", "next to", "under") stand just before ``words[start]``?"""
        k = start - 1
        while k >= 0 and start - k <= LANDMARK_REACH:
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
                weight = LANDMARK_WEIGHT if direction or self._landmark(plain, first) else 1.0
                into_support, into_scores = (denied_support, denied_scores) if denied else (support, scores)
                for area in areas:
                    into_support[area] = into_support.get(area, 0.0) + weight
                    into_scores[area] = max(into_scores.get(area, 0.0), score)
                i += size
                break
            else:
                i += 1
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
        corrected = [self._correct(w) for w in self._idioms(tokens(text))]
        kept = [(w, sc) for w, sc in corrected if w not in LIGHT_FILLER]
        words = self._scope.split_clauses([w for w, _ in kept])
        kept = [(w, sc) for w, (_, sc) in zip(words, kept, strict=True)]
        signs, polarity = self._signs(words)
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
    abode abound accidents ace aces ached acing acne acre acres acting age aged aground aims ales allays
    alms alone alter alto among ample angle ankles ants apes appetites apply apter arc arched archer
    archers arching arcs areas arena ares aria arise arks army arose arts ashes ashing asks attach
    attacks awaked awaken awakes aware awes awoke awry axes ayes babe backlog backlogs backs badder bade
    bagged bail bake bald bale balk balks balls balm ban banded bands bandy bang bani bank banked banks
    banned bans bar bard bare bareback barged bark barks barn barns based baser bases bash bask basks
    bass baste bath batter baud bawl bay bead beak beam bean beard bears beat beater bee beef beer bees
    beet beings bell bellow bend betted betters bettor bide biked bikes bile bill bind bite bits bitter
    blackhead blackheads blacks bladders blame blames bland blander blank blare blaster blaze blazes
    bleak bled blend blending blends blew blob bloc block blog blond bloods bloody bloom blot blown
    blows blued bluer blues blur blush bluster blusters boar bode bodes boils bond bondage bonds boned
    boney bonus bony booby boot booth boots bore bores born borne botch bottoms bow bowed bowl bowls
    boxes boy braise braised braises braising brake braking brand breach breaches breaching bread
    breading breadth breadths breaks breathed breather breathers breathes breaths breed breeding breeds
    bring bristle brittler broil broker brood broth brow brunt buck bucks bug bulb bulk bull bumps bums
    bun bung buns buried burner burp burped burping burps burr burred burring burrs burst bury burying
    bust buts butte butter butts cage cake calfs calk call calm cam camel cameo camp camped camping
    camps cancel cancers cane canker cans canter cape card care carp cars cart carves case cash cashed
    cast cat catchy cats cave caves cease cent chain champ champed champing champs chance chanced
    changes chant chanted char charge charged cheat check checks cheep cheer cheers chess chests chi
    chic chick chid chiles chilis chilli chilly china chink chip clacked clamp clamped clamping clamps
    clanged clash clashed click clinching clod clods clog clogs cloth cloths clout clouts code codes
    coding coin coke cokes coking cold collarbones collisions collusion colt colts comas combing combs
    comet comets comings concession concessions conclusion concussions cone cones confession constancy
    constants constraint constricts construct constructs consultant contestant controls convulsion
    cooing cook cop coped copes coping cops copy core cores coring cot cots couch couched couching
    coughs cove coves cowing crack cracker crackled crammed cramming crams cranked crap crashes crass
    create creek creeks crest croak crock croon crouch crust crutch cubs cues cuffs cult cults cums cups
    curt cute czar dabs dad dads dais damages dams daring dawn deaf deal dealt dean dear debt debts deed
    deem deeps deer deft deli delis delta deltas dent dents dies discomforted discomforts doe doer doers
    dogs doles domes don dons dopes dos dose doses dotes dots doves downs downy dozes dread drip dripped
    dripping drool droops droppings drops drown drys duding dues duping dwelt dyes eery elbows elector
    electors electronic ends entice equine etch eve even every eves expediting extensions extremer
    extremes eyelids faced faces facet facials fact fade fail fake falls fame farce fare fate faze feat
    fee feed feeding feeds feelings fees felling fells felts feverishly fevers fewer fill finer fingers
    firearm firearms fiver fleet flesh flew font food fool foots form fort fractures fret fro frog frond
    fronts frost fuel fueling fuels full gage gale game gape gaping garb garbs gas gashing gasp gassing
    gastric gate gavel gaze gazed gees gems genial genitals gents gibe gibes gibing given givens glaze
    glazed glue glues gnash goat gobs gods gong gores goring gosh grace graced grade graded grain grape
    grasping grate grated grave graved grayed grazes grid grim grin grinning gripe grips grit groan
    groins grown gush gut guts gutting hags hale haling hall halo halt halve halving ham hamstrung handy
    hang hangs hardy hare hared haring hark harm harms harp hart harts hat hate hating hats haunt haven
    havens haves haying hays haze hazing heading heads heady heal heals heap heaped heaping heaps hear
    heard hearing hears hearth hearts hearty heath heating heats heave heaving heed heeling held hell
    helm helms helper helpings hemp hems herb herd hero hers hes hides highs hikes hilt hind hinds hint
    hire hires hiss hits hived hiving hoard hoarse hoed holds hole holed holy hood hoot hops horde
    horrendously horribly horses hose host house hove hows hums hunt hunting hunts hurl hurling hurls
    hut huts iced ices icon ikon impacts impart impinges improvising inaner incense infections infects
    infer infest infested inflames inflammations inflated inflation inflection inflections info
    information infraction inhales inject injected injection injections ins insect insider inspection
    intenser inter intolerably intolerance ion irons irony irritant jabs jams jars jays jest join joins
    joints jumbo jut juts keel keels keen keens kelp keyholes kid killings kilning kin kinda kinds king
    kink kinked kneed kneel kneels knew knit knits knitted knob knobs knocker know knows laborer labs
    lacerating lacerations ladders laded lads lags lain lamb lamp lanced lander laps larded lass last
    lasts late laterals lath lathe lauded lava laws lays lead leaf leaks lean leap leek lefts lens lent
    lept less lest let lets liberation life lifts lightening lighting lightninged lightnings lilt limbs
    lime limp lint lion lions list lit literal littler loan loans lobs loft log logs lone longs loon
    loons loosing loot loping lops lose loser loses lots lover loving lowed lowers lowing lows lugs
    lumber lumps lung lust maid main majors man mane mangy manly manor mans massacring massaged massages
    maxims maximum maximums may mayor meats meddle medias medium mediums melts mend mes message mice
    middles mien mike mild mile mime mince mind mined miner mines minibus minimum minimums mink minors
    mint mire mite mode mole moose mope more moth moths mousse mousy mouths moved mover moves movie muck
    muddle mulch munch muscled muse mush name nap naps nears neat needled needless needs needy nerved
    newer nice nick nicks nigh nights nines nite none notching note nothings noting numbs offs omen ones
    opens operates operational operations otter ours oust ouster outed outs outsider outsides ovens
    overs overt oxen packs pact pacts paid pail pails paint paints pair pairs palled pan pans pant pants
    par pare pares park parks pars partly party past pasts pat pats pawn pawns peaks pealing peas pease
    peek peeking peeks peel peep peeping peer peering peeving pegs pend pens pepping perks persisted
    persistence persistently persisting pert pest pets petty pews picks pies pigs pilled pin pine pines
    pink pinks pint pints pis pitch pitched pits pity plain plains planar planter pleased pleases pled
    plop plopping plug plugs plum plums plush poet poked poking poled poling polled polo pomp pool
    pooled pooling poops poor pop pored poring port ports pose posed posing posts posy pot pots pout
    pressured pressures prick pricks primate primates print prints privater privatest privatizes
    problems prop propping pucks puff puffs pulley pulped pulsed punch punches puns punt pupping pups
    purpler purples push puss puts putt qua quay quays quiet quits quote radial radiant raided railed
    rained raises rally rasher rashest rasp read real realty ream reap reared rears rectum redo redress
    reds reed regions released releases rend replacements rids rights rigs rims rips roar robs rubs rued
    rues rugs ruins rums run rune runes rung rungs runt runts rush rushes ruts sadden saddled saddles
    sades sailed sale sales same sand scabbing scale scaled scalp scaly scan scans scar scars scold
    scoot score scrapes scrapped scraps scum seams seating seats seeds seeks seep seeps sees sell
    selling sells serenading severed severer severs shall share shark sharps shaver sheep shell shelled
    shelling shells shes shies shimmering shine shines shingled shiny ship shipped ships shirt shivers
    shoo shook shoon shoos shoots shore shorn shorts shot shots shouldered shout shove shriveling
    shrugging shun shuns sicking sided sides sidle sidles sigh signs sill simile sin sine sing singe
    singles sins sipped sire sires site sites sixes size sizes skein ski skid skill skim skins skip
    skipped skis skit skulls slab slabbing slabs slapped slashed sleek sleeps sleepy sleet slicking
    slide slides slipper sliver slivering slopped slot slots slug slum slurs slut smalls smashes smell
    smelled smelling smells smiled smiles smite smoulder smuggling snagging sneak sneaking snide snider
    sniff snipped snitch snitches snore snort snot snots snuggling sodden soft sold soled soli solo
    solos solve solves somethings soot sorer sores sorta sorts sour spat spats speaks spear spearing
    speck specking spell spelled spelling spells spice spiders spike spill spines spins spiral spire
    spit spite spits spoiled spore sport sports spout spouts sprains spreads spreed spur stab stabling
    stabs stacking staff staid stain stained stains stall stands stank stars stave steak steep stems
    stiffs stills stinking stirs stitched stocking stoke stokes stole stone store stoves straggle
    straggling strainer strains strait strand stranger strangle strangling streaming strengthen
    strengths strike strikes strode stroked strove stubbing stuck stuff sunburns superb supers supper
    sure surer surgeons swab swabbing swabs swats swearing swears sweaty sweep sweets sweller swellings
    swill swilled swilling swills swine switch switches swivelling swore symptoms tack tacking taken
    taker takes taking talc tale talks tall tame tames taming tank tanking tap tape taping tapped taps
    task tasking taxing teach tease teat teem teen tees temperate temperatures temporal tend tended
    tenders tenor tens tensed tenser tenses tensions tensors tent tenth terms terribly terse test texts
    than thank thaw thee theirs theme then theses thick thinker thinking thinks thinned thins thongs
    thorn threads threat three throbs throw thus thy tide tides tie tied ties tightens tighter tights
    tile tiles timed timer timers tin tinder ting tinge tings tinning tipped tips tire tired tires toed
    toiled toilets tome tomes ton tone tones tons tool toot torch tore toss tote totes tots touchy tough
    town tows toys tramp tramped tramps trapper travels tray trays tread treed trees tries triggers
    trimesters trip tripled trips troubled troubles trued tumors turn tusk tutor twin twinning twister
    twos udder ulcers unbearably unbeatable unbreakable undersides unreadable upped uppers ups urinates
    usable vain vary veil veils verb wade wades wading wafer waft wage wager wages waging waist waists
    wait waiter waked waken wakens walking walks wall wan wand wane wanes waning wants war ward warding
    wards warming warms warn warnings warp warping warring wars wart wary waters watery watt wave waver
    waves waving wavy waxes waxing waxy ways wean wear weed weeding weeds week weep weeps weer wees
    weigh weighs weights weighty weirdo well welt welting went wept west wets whale whats wheat whens
    wheres wherever whet whetting whew while whine white wholes whore whose whys width wild wills wilt
    wily wire wish wist wit witch wits witting woe wok woken woks won woods wordy wore world worlds worm
    worms worn worsen worsts wot woulds wove wreak wren wrest wrests wriest wright writ writs yearn
    yearns yours yous zinc
    """
)
