"""Is a word stated, denied or only possible? The scope of negation and hedge cues (NegEx).

A NegEx-style reading (Chapman et al., J Biomed Inform 2001; ConText, Harkema et al.
2009) over the matcher's normalised words, with the cue lists of
``content/understanding.yaml``:

* a **negation cue before** a word ("no", "don't have", "never", "free of") denies the
  next ``window`` words; a **negation cue after** it ("is gone", "went away") denies the
  ``after_window`` words before it;
* **pseudo-cues** ("not only", "no better", "can't stop") look like a negation and are not;
* **hedges** ("maybe", "I think", "kind of", "a bit", "or something", "years ago") make
  the words in their scope only *possible*, and so does a question mark at the end of a
  clause (unless the next sentence answers it with a negation: "numbness? nope");
* scope ends at a sentence end and at a **terminator** ("but", "though", "except"); a
  comma, or an "and" that starts a new clause, inside a negation's scope leaves the words
  after it *uncertain* rather than denied — unless the comma belongs to a list closed by
  "or"/"nor" ("no numbness, tingling or weakness" denies all three).

Words inside a warning phrase's own term never act as cues ("can't feel", "no feeling"
are symptoms). Pure: no I/O; :class:`Scope` is built once per content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import NamedTuple

from bot.domain.content import Understanding

SENTENCE_END = "."
QUESTION_END = "?"
COMMA = ","
BOUNDARIES = frozenset({SENTENCE_END, QUESTION_END, COMMA})
_LIST_CLOSERS = frozenset({"or", "nor"})
_LIST_ITEM_WORDS = 2


class Polarity(IntEnum):
    """How a word (and a mention made of words) is meant; higher is more certain it is there."""

    DENIED = 0
    UNCERTAIN = 1
    STATED = 2


class Whose(IntEnum):
    """Whose condition a word is about (ConText's "experiencer")."""

    OWN = 0
    OTHER_NOW = 1  # "Mum is confused all of a sudden"
    OTHER_PAST = 2  # "my dad had a stroke years ago"
    FICTION = 3  # "watched a film where a guy has a heart attack": no one real


class Reading(NamedTuple):
    """How each word of a text is meant: stated, denied or possible; whose; and long past or not."""

    polarity: list[Polarity]
    whose: list[Whose]
    past: list[bool]  # in a clause about long ago ("sprained my ankle as a teenager")


class _Cue(IntEnum):
    PSEUDO = 0
    NEG_BEFORE = 1
    NEG_AFTER = 2
    HEDGE_BEFORE = 3
    HEDGE_AFTER = 4
    STOP = 5
    OTHER = 6
    NEG_ALL = 7
    PAST = 8
    FICTION = 9


class Scope:
    """Reads the polarity of every word of a normalised text; build once per content."""

    def __init__(self, rules: Understanding, words_of: Callable[[str], list[str]]) -> None:
        self.window = rules.window
        self.after_window = rules.after_window
        kinds: dict[tuple[str, ...], set[_Cue]] = {}
        groups: tuple[tuple[Iterable[str], _Cue], ...] = (
            (rules.terminators, _Cue.STOP),
            (rules.negation.pseudo, _Cue.PSEUDO),
            (rules.negation.before, _Cue.NEG_BEFORE),
            (rules.negation.after, _Cue.NEG_AFTER),
            (rules.negation.after_all, _Cue.NEG_ALL),
            (rules.hedges.before, _Cue.HEDGE_BEFORE),
            (rules.hedges.after, _Cue.HEDGE_AFTER),
            (rules.others, _Cue.OTHER),
            (rules.historical, _Cue.PAST),
            (rules.fiction, _Cue.FICTION),
        )
        for phrases, kind in groups:
            for raw in phrases:
                words = tuple(words_of(raw))
                if words:
                    kinds.setdefault(words, set()).add(kind)  # "maybe": a hedge before and after
        self._cues: dict[str, list[tuple[tuple[str, ...], frozenset[_Cue]]]] = {}
        for words, found in kinds.items():
            self._cues.setdefault(words[0], []).append((words, frozenset(found)))
        for entries in self._cues.values():
            entries.sort(key=lambda e: -len(e[0]))
        self.vocabulary: frozenset[str] = frozenset(w for phrase in kinds for w in phrase)
        # one-word terminators end a clause as a comma does ("cut my finger but the knot is ...")
        self.terminator_words = frozenset(
            w for raw in rules.terminators if len(ws := words_of(raw)) == 1 for w in ws
        )
        self.clause_starts = frozenset(w for raw in rules.clause_starts for w in words_of(raw))
        self._reporting = [tuple(ws) for ws in map(words_of, rules.reporting) if ws]
        self.cue_tails = frozenset(w for raw in rules.cue_tails for w in words_of(raw))
        self.resuming = frozenset(w for raw in rules.resuming for w in words_of(raw))
        self.past = frozenset(w for raw in rules.past for w in words_of(raw))
        self.acted_on = frozenset(w for raw in rules.acted_on for w in words_of(raw))
        self.their = frozenset(w for raw in rules.their for w in words_of(raw))
        self.vocabulary |= self.their
        self.first_person = frozenset(w for raw in rules.first_person for w in words_of(raw))
        self.vocabulary |= self.first_person
        self._present = [tuple(ws) for ws in map(words_of, rules.present) if ws]
        self.vocabulary |= {w for phrase in self._present for w in phrase}
        self.vocabulary |= self.acted_on
        cancelled = rules.negation.cancelled
        self._cancellable = frozenset(tuple(words_of(raw)) for raw in cancelled.cues)
        self._cancellers = frozenset(w for raw in cancelled.by for w in words_of(raw))
        self.vocabulary |= self._cancellers
        self.vocabulary |= {w for phrase in self._reporting for w in phrase}

    def split_clauses(self, words: list[str]) -> list[str]:
        """An "and" that starts a new clause ("... and my calf is red") becomes a comma."""
        if "and" not in words:
            return words
        out = list(words)
        for i in range(len(out) - 1):
            if out[i] == "and" and out[i + 1] in self.clause_starts:
                out[i] = COMMA
        return out

    def _find_cues(
        self, words: Sequence[str], masked: Sequence[bool]
    ) -> list[tuple[int, int, frozenset[_Cue]]]:
        found: list[tuple[int, int, frozenset[_Cue]]] = []
        i, n = 0, len(words)
        while i < n:
            entries = self._cues.get(words[i])
            hit = None
            if entries is not None and not masked[i]:
                for phrase, kinds in entries:
                    end = i + len(phrase)
                    if end <= n and tuple(words[i:end]) == phrase and not any(masked[i:end]):
                        hit = (i, end, kinds)
                        break
            if hit is None:
                i += 1
            else:
                found.append(hit)
                i = hit[1]
        return found

    def polarities(self, words: Sequence[str], masked: Sequence[bool]) -> list[Polarity]:
        """The polarity of each word; ``masked`` words (inside a warning term) are never cues."""
        return self.read(words, masked).polarity

    def read(self, words: Sequence[str], masked: Sequence[bool]) -> Reading:
        """Each word's polarity, whose condition it is about (someone else's: "my mum had ..."), and
        whether its clause is about long ago."""
        n = len(words)
        result = [Polarity.STATED] * n
        whose = [Whose.OWN] * n
        cues = self._find_cues(words, masked)
        if not cues and QUESTION_END not in words:
            return Reading(result, whose, [False] * n)
        cue_at = {start: (end, kinds) for start, end, kinds in cues}
        in_cue = [False] * n
        for start, end, _ in cues:
            for k in range(start, end):
                in_cue[k] = True
        stops = {start for start, _, kinds in cues if _Cue.STOP in kinds}
        list_comma = self._list_commas(words, stops)

        negated = [False] * n  # in a clean negation scope
        resolved = [False] * n  # denied by a cue after it: "... gone now", "..., fine now"
        unsure = [False] * n  # hedged, or a negation's scope crossed a clause boundary

        # forward: cues before a mention
        neg_left = hedge_left = other_left = 0
        story = False  # in a film's, a game's or a song's clause, until the person speaks of themselves
        other = Whose.OWN
        soft = False
        i = 0
        while i < n:
            w = words[i]
            if i in cue_at:
                end, kinds = cue_at[i]
                if _Cue.STOP in kinds:
                    neg_left = hedge_left = other_left = 0
                    story = False
                if _Cue.PSEUDO not in kinds:
                    if _Cue.NEG_BEFORE in kinds and not self._cancelled(words, i, end):
                        neg_left, soft = self.window, False
                    if _Cue.OTHER in kinds and not (self._reports(words, end) or self._on_me(words, end)):
                        other_left = n  # someone else's, to the end of the clause: "my dad had a stroke"
                        other = self._tense(words, end)
                    if _Cue.HEDGE_BEFORE in kinds:
                        hedge_left = self.window
                    if _Cue.FICTION in kinds:
                        story = True
                i = end
                continue
            if w in (SENTENCE_END, QUESTION_END):
                neg_left = hedge_left = other_left = 0
                story = False
            elif w == COMMA:
                if not list_comma[i]:
                    soft = neg_left > 0
                    hedge_left = other_left = 0
                    story = False
            else:
                story = story and w not in self.first_person
                if story:
                    whose[i] = Whose.FICTION
                elif other_left > 0:
                    whose[i] = other
                    other_left -= 1
                # the words of a warning term are one mention: they use up one place of a window
                step = 0 if masked[i] and i + 1 < n and masked[i + 1] else 1
                if neg_left > 0:
                    if soft:
                        unsure[i] = True
                    else:
                        negated[i] = True
                    neg_left -= step
                if hedge_left > 0:
                    unsure[i] = True
                    hedge_left -= step
            i += 1

        # backward: cues after a mention
        for start, end, kinds in cues:
            if _Cue.PSEUDO in kinds or not kinds & {_Cue.NEG_AFTER, _Cue.HEDGE_AFTER}:
                continue
            # "is that normal?", "is it ok?": a question about the mention, not an answer to it
            asked = end < n and words[end] == QUESTION_END
            denies = _Cue.NEG_AFTER in kinds and self._clause_final(words, end, stops) and not asked
            if not denies and _Cue.HEDGE_AFTER not in kinds:
                continue  # "it's gone red", "has gone numb": a change, not an ending
            left, crossed, answering = self.after_window, False, False
            k = start - 1
            while k >= 0 and left > 0:
                w = words[k]
                if answering and w == COMMA:
                    break  # the clause it answers ends here
                if k in stops and denies and all(x in self.resuming for x in words[k + 1 : start]):
                    k -= 1  # "had a fall but that's long healed": the short answer looks back
                    continue
                if w in (SENTENCE_END, QUESTION_END) or k in stops:
                    break
                if in_cue[k]:
                    k -= 1  # another cue ("years ago") is no part of the mention
                    continue
                if w == COMMA:
                    # "pins and needles, gone now" denies; "calf swollen, everything else is fine"
                    # only blurs: words between the comma and the cue make it about something else
                    direct = all(x in self.resuming for x in words[k + 1 : start])
                    crossed = crossed or not (list_comma[k] or (denies and direct))
                    if denies and direct and not crossed and not list_comma[k]:
                        # a cue that is a clause of its own answers the whole clause before it:
                        # "pins and needles from sitting cross-legged, gone now"
                        answering, left = True, n
                else:
                    if denies and not crossed:
                        resolved[k] = True
                    elif not (negated[k] or resolved[k]) or not (denies or crossed):
                        # a denial across a comma blurs only what nothing denied, and so does a
                        # hedge: "not severe, maybe a 4/10" still denies "severe"
                        unsure[k] = True
                    if not (masked[k] and k > 0 and masked[k - 1]):
                        left -= 1  # a warning term's words are one mention
                k -= 1

        # "fever, rash, bruise? none of those.", "numbness, tingling - nope to all": the whole
        # list or sentence before the cue (the one before it, when the cue starts a sentence)
        for start, _, kinds in cues:
            if _Cue.NEG_ALL in kinds and _Cue.PSEUDO not in kinds:
                self._deny_all_before(words, start, stops, resolved)

        # a sentence that ends with a question mark is unsure - unless the person answers it
        # at once with a negation: "chest pain? nope, it's the muscle"
        if QUESTION_END in words:
            answers = {
                start for start, _, kinds in cues if kinds & {_Cue.NEG_BEFORE, _Cue.NEG_AFTER, _Cue.NEG_ALL}
            }
            begin = item = 0  # the question's own clause: after the last clause's comma or terminator
            for k, w in enumerate(words):
                if w == COMMA:
                    if k - item > _LIST_ITEM_WORDS:  # a clause, not an item of a list: "fever, rash?"
                        begin = k + 1
                    item = k + 1
                elif w == SENTENCE_END or k in stops:
                    begin = item = k + 1
                elif w == QUESTION_END:
                    denied_answer = k + 1 in answers
                    for j in range(begin, k):
                        if denied_answer:
                            negated[j] = not unsure[j]
                        else:
                            unsure[j] = True
                    begin = item = k + 1

        for k in range(n):
            if resolved[k]:  # said to be over wins over a hedge: "had sciatica years ago, fine now"
                result[k] = Polarity.DENIED
            elif unsure[k]:
                result[k] = Polarity.UNCERTAIN
            elif negated[k]:
                result[k] = Polarity.DENIED
        return Reading(result, whose, self._long_past(words, cues, stops))

    def _long_past(
        self, words: Sequence[str], cues: list[tuple[int, int, frozenset[_Cue]]], stops: set[int]
    ) -> list[bool]:
        """The clauses (ConText's "historical") with a cue of long ago and no word of now: "when I
        was 20 I broke my wrist" - but not "had a DVT in 2015 and my calf is swollen again"."""
        n = len(words)
        past = [False] * n
        for start, end, kinds in cues:
            if _Cue.PAST not in kinds:
                continue
            first = start
            while first > 0 and words[first - 1] not in BOUNDARIES and first - 1 not in stops:
                first -= 1
            last = end
            while last < n and words[last] not in BOUNDARIES and last not in stops:
                last += 1
            clause = words[first:last]
            if any(_contains(clause, phrase) for phrase in self._present):
                continue
            for k in range(first, last):
                past[k] = True
        return past

    @staticmethod
    def _deny_all_before(words: Sequence[str], at: int, stops: set[int], resolved: list[bool]) -> None:
        """Deny every word of the sentence before ``at`` (the previous sentence, if ``at`` starts one)."""
        k = at - 1
        while k >= 0 and words[k] == COMMA:
            k -= 1
        if k >= 0 and words[k] in (SENTENCE_END, QUESTION_END):
            k -= 1  # "fever? rash? none of those": the question the cue answers
        while k >= 0 and words[k] not in (SENTENCE_END,) and k not in stops:
            if words[k] not in BOUNDARIES:
                resolved[k] = True
            k -= 1

    def _cancelled(self, words: Sequence[str], start: int, end: int) -> bool:
        """A double negation: "can't breathe in without it hurting" - the cue after an inability
        word of its own clause denies nothing."""
        if tuple(words[start:end]) not in self._cancellable:
            return False
        for k in range(start - 1, -1, -1):
            if words[k] in BOUNDARIES:
                return False
            if words[k] in self._cancellers:
                return True
        return False

    def _clause_final(self, words: Sequence[str], at: int, stops: set[int]) -> bool:
        """Does a cue that ends at ``at`` end its clause ("..., gone now." but not "gone red")?"""
        return at >= len(words) or words[at] in BOUNDARIES or words[at] in self.cue_tails or at in stops

    def _tense(self, words: Sequence[str], at: int) -> Whose:
        """Someone else's condition now ("is", "has", "looks") or in the past ("had", "used to")?"""
        if any(w in self.past for w in words[at : at + 3]):
            return Whose.OTHER_PAST
        return Whose.OTHER_NOW

    def _on_me(self, words: Sequence[str], at: int) -> bool:
        """Does someone else act on the person, right after naming them ("my toddler headbutted
        me", "my dog bit me") - not "my sister is pregnant and lent me her ball"?"""
        for w in words[at + 1 : at + 3]:
            if w in BOUNDARIES:
                return False
            if w in self.acted_on:
                return True
        return False

    def _reports(self, words: Sequence[str], at: int) -> bool:
        """Does a reporting verb follow within two words ("my wife says ...", "mum noticed")?"""
        for k in range(at, min(at + 3, len(words))):
            for phrase in self._reporting:
                if tuple(words[k : k + len(phrase)]) == phrase:
                    # "my friend thinks she has sciatica" reports the friend's own
                    after = k + len(phrase)
                    return not (after < len(words) and words[after] in self.their)
        return False

    @staticmethod
    def _list_commas(words: Sequence[str], stops: set[int]) -> list[bool]:
        """Which commas start a short list item closed by "or"/"nor": ", tingling or weakness"."""
        n = len(words)
        flags = [False] * n
        for k, w in enumerate(words):
            if w != COMMA:
                continue
            for j in range(k + 1, min(k + 1 + _LIST_ITEM_WORDS + 1, n)):
                if words[j] in _LIST_CLOSERS:
                    flags[k] = j > k + 1
                    break
                if words[j] in BOUNDARIES or j in stops:
                    break
        return flags


def _contains(words: Sequence[str], phrase: tuple[str, ...]) -> bool:
    """Does ``phrase`` occur in ``words``, word for word?"""
    size = len(phrase)
    return any(tuple(words[k : k + size]) == phrase for k in range(len(words) - size + 1))
