"""Tests of the free-text matcher: normalisation, the three outcomes, warning signs and zones to
avoid first (also as the conversation sees them), the protected-word list, and the labelled set in
``tests/data/utterances.yaml`` (accuracy per class is printed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content_loader import load_content
from bot.domain.content import AREA_IDS, Content, Severity
from bot.domain.matcher import (
    FILLER,
    PROTECTED,
    Candidate,
    Matcher,
    MatchResult,
    area_words,
    normalise,
    to_json_dict,
)
from bot.domain.state import Step
from bot.match_eval import evaluate, format_report, load_rows
from tests.conftest import CoreDriver, core_reply_text

DATA = Path(__file__).parent / "data" / "utterances.yaml"


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="module")
def matcher(content: Content) -> Matcher:
    return Matcher(content)


@pytest.fixture(scope="module")
def labelled() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return data


# -- normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("My NECK!!!", ["my", "neck"]),
        ("can't   stop", ["cant", "stop"]),
        ("it\u2019s sore", ["its", "sore"]),
        ("ne\u200bck", ["neck"]),
        ("calf 😫🔥", ["calf"]),
        ("10/10 pain", ["10", "10", "pain"]),
        ("Café crème", ["cafe", "creme"]),
        ("I cannot walk", ["i", "cant", "walk"]),
        ("neck & shoulders", ["neck", "and", "shoulders"]),
        ("neck n shoulders", ["neck", "and", "shoulders"]),
        ("neck+shoulder", ["neck", "and", "shoulder"]),
        ("I'm burnt out", ["im", "burnt", "out"]),  # idioms are content: test_idioms_are_read_as_plain_words
        ("back o' my knee", ["back", "of", "my", "knee"]),
        ("", []),
        ("🍕", []),
    ],
)
def test_normalise(text: str, words: list[str]) -> None:
    assert normalise(text) == words


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("I'm burnt out, my traps are tight", "upper_traps"),
        ("feel the burn in my calves", "calves"),
        ("I fell asleep on the couch and woke up with a stiff neck", "neck"),
        ("shooting hoops hurt my shoulder", "shoulder"),
        ("wear and tear in my lower back", "lower_back"),
    ],
)
def test_idioms_are_read_as_plain_words(matcher: Matcher, content: Content, text: str, area: str) -> None:
    """content/understanding.yaml ``idioms``: phrases that only look like a warning sign."""
    assert content.understanding.idioms
    result = matcher.match(text)
    assert (result.area, result.red_flag, result.ask) == (area, None, None), result


def test_filler_is_dropped() -> None:
    assert area_words("I have a knot in my traps and it is killing me") == ["traps", "it"]
    assert area_words("sore tight calves") == ["calves"]
    assert area_words("the back of my neck") == ["back", "neck"]


# -- outcomes ---------------------------------------------------------------------


def test_confident(matcher: Matcher) -> None:
    result = matcher.match("my traps are killing me")
    assert result.area == "upper_traps"
    assert result.red_flag is None
    assert result.candidates == ()
    assert 0 <= result.score <= 100
    assert result.is_confident


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("between my shoulder blades", "upper_back"),
        ("tight hammies", "hamstrings"),
        ("calfs", "calves"),
        ("butt cheek from sitting", "glutes"),
        ("jaw is sore from grinding", "jaw"),
        ("QL", "lower_back"),
        ("ITB", "outer_thigh"),
        ("pecs", "chest"),
        ("delts", "shoulder"),
        ("plantar fascia", "feet"),
        ("masseter", "jaw"),
        ("hamstrigns", "hamstrings"),  # swapped letters
        ("shoudler", "shoulder"),
        ("lowerback", "lower_back"),  # run together
        ("ham strings", "hamstrings"),  # split apart
        ("back of my neck", "neck"),  # longest phrase wins over "back"
        ("outer thigh near my hip", "outer_thigh"),  # named twice beats named once
        ("neck n shoulders", "upper_traps"),  # "n" and "&" read as "and"
        ("shoulders & neck", "upper_traps"),
        ("arse", "glutes"),  # lay words
        ("booty", "glutes"),
        ("my ass hurts from sitting", "glutes"),
        ("gluts", "glutes"),  # a rare English word, but here a typo of "glutes"
        ("trapezoids", "upper_traps"),
        ("burning sensation in my calf", "calves"),  # a feeling, not a burn
        ("feel the burn in my quads", "quads"),
        ("burnt out and my neck is tight", "neck"),  # not a burn either
    ],
)
def test_areas(matcher: Matcher, text: str, area: str) -> None:
    assert matcher.match(text).area == area


def test_close_call(matcher: Matcher) -> None:
    result = matcher.match("my thigh")
    assert result.area is None and result.red_flag is None
    assert {c.area for c in result.candidates} == {"hamstrings", "quads", "outer_thigh"}
    assert result.is_close_call
    two = matcher.match("neck and calves")
    assert two.area is None
    assert [c.area for c in two.candidates] == ["neck", "calves"]


def test_close_call_has_two_or_three_candidates(matcher: Matcher) -> None:
    result = matcher.match("neck, calves, feet, jaw and quads")
    assert result.area is None
    assert 2 <= len(result.candidates) <= 3


@pytest.mark.parametrize("text", ["pizza", "stomach ache", "knee cap", "my eyes", "123", "😀", "", "but"])
def test_nothing(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    assert result == MatchResult(text, None, None, 0.0, ())


# -- warning signs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("chest pain", "chest_pain"),
        ("my calf is swollen, red and warm", "blood_clot"),
        ("swolen calf", "blood_clot"),  # typo in a warning word
        ("pain shooting down my arm with tingling fingers", "nerve_symptoms"),
        ("back pain and I can't control my bladder", "bladder_bowel"),
        ("fever with a hot red lump", "infection"),
        ("I fell off a ladder", "injury"),
    ],
)
def test_warning_beats_area(matcher: Matcher, text: str, flag: str) -> None:
    result = matcher.match(text)
    assert result.red_flag == flag
    assert result.area is None
    assert result.candidates == ()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        # an infected cut or spot, a burn: don't massage that spot
        ("infected cut", "open_wound"),
        ("my cut is infected", "open_wound"),
        ("infected", "open_wound"),
        ("infection on my shin", "open_wound"),
        ("infected lump on my neck", "infection"),  # a lump: the urgent sign wins
        ("pus coming out", "infection"),
        ("burned my hand", "open_wound"),
        ("I have a burn", "open_wound"),
        ("burnt my arm on the oven", "open_wound"),
        ("scalded my wrist", "open_wound"),
        ("sunburnt shoulders", "open_wound"),
        ("I cut myself shaving", "open_wound"),
        # pain brought on by breathing, breathlessness
        ("hurts to breathe", "chest_pain"),
        ("painful to breathe", "chest_pain"),
        ("hurts when I breathe", "chest_pain"),
        ("it hurts whenever i breathe deeply", "chest_pain"),
        ("sharp pain in my back when I breathe in", "chest_pain"),
        ("breathing hurts", "chest_pain"),
        ("short of breath", "chest_pain"),
        ("short of breth", "chest_pain"),
        ("struggling to breath", "chest_pain"),
        # zones to avoid: not a massage area, even with an area word in them
        ("back of my knee", "avoid_zone"),
        ("back of knee", "avoid_zone"),
        ("back of the knee", "avoid_zone"),
        ("behind my knee", "avoid_zone"),
        ("backs of my knees", "avoid_zone"),
        ("back o my knee", "avoid_zone"),
        ("back knee pain", "avoid_zone"),
        ("front of my neck", "avoid_zone"),
        ("the side of my neck", "avoid_zone"),
        ("throat", "avoid_zone"),
        ("knot in my armpit", "avoid_zone"),
        ("groin", "avoid_zone"),
        ("inside of my elbow", "avoid_zone"),
        ("above my collarbone", "avoid_zone"),
        ("varicose veins behind my knee", "varicose_veins"),  # the more specific sign first
    ],
)
def test_audit_gaps_are_flagged(matcher: Matcher, text: str, flag: str) -> None:
    result = matcher.match(text)
    assert (result.red_flag, result.area, result.candidates) == (flag, None, ())


@pytest.mark.parametrize(
    "text",
    [
        "pain",
        "my neck is a pain",
        "tight calves",
        "tender spot in my calf",
        "killing me",
        # what the bot itself says during a hold, echoed back
        "I breathe fine",
        "breathe out slowly",
        "ok breathing out slowly",
        "keep breathing slowly, it hurts a bit",
        "breathe through the pain",
        "deep breathing helps the pain",
        "out of breath after my run",  # effort, not a warning sign by itself
        "it burns when I press",
        "my shoulders burn when I lift",  # a feeling, not a burn
        "burn",  # too little to tell a burn from a burning feeling; the area question comes again
        "it hurts when I breathe out",  # breathing out is what the hold asks for
        "it aches every time I breathe out",
        "my back hurts, trying to breathe through it",
        "shivers down my spine when I press",
        "burning calves",
        "I'm burnt out",
        "my scalp",  # not "scald"
        "my boots are tight",  # not "booty"
        "cut back on running",
    ],
)
def test_everyday_words_do_not_flag(matcher: Matcher, text: str) -> None:
    assert matcher.match(text).red_flag is None


def test_english_words_are_not_corrected(matcher: Matcher) -> None:
    assert matcher.match("waist").area is None  # not "wrist"
    assert matcher.match("stuck").red_flag is None  # not "struck"
    assert matcher.match("paint").red_flag is None
    assert matcher.match("boot").area is None  # not "booty"
    assert matcher.match("she asks").area is None  # not "ass"


def test_zones_to_avoid_are_never_aliases(content: Content, matcher: Matcher) -> None:
    """Every avoid-zone term is caught before areas, so none can become a massage area."""
    for pattern in content.warning_phrases["avoid_zone"]:
        for group in pattern.all_of:
            for term in group:
                text = term.rstrip("*")
                result = matcher.match(text)
                assert result.red_flag == "avoid_zone" and result.area is None, text


_DICTIONARY = Path("/usr/share/dict/american-english-small")


@pytest.mark.skipif(not _DICTIONARY.exists(), reason="needs Debian's wamerican-small word list")
def test_dictionary_words_are_not_corrected_into_warning_words(content: Content, matcher: Matcher) -> None:
    """How PROTECTED is kept up to date (see its comment): an ordinary English word is typo-
    corrected only into its own inflection, a filler word or, for rare words, an area word that
    no warning term uses. A failure lists the words to add to PROTECTED."""
    area_vocab = {w for aliases in content.aliases.values() for a in aliases for w in area_words(a)}
    area_vocab |= {w for area in content.areas for w in area_words(area.name)}
    warning_vocab = {
        w
        for patterns in content.warning_phrases.values()
        for pattern in patterns
        for group in pattern.all_of
        for term in group
        for w in normalise(term)
    }
    wrong: dict[str, str] = {}
    for line in _DICTIONARY.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if not (word.isascii() and word.isalpha() and word.islower()) or word in PROTECTED:
            continue
        target, _ = matcher._correct(word)
        if target == word or target in FILLER or (target in area_vocab and target not in warning_vocab):
            continue
        short, long = sorted((word, target), key=len)
        if any(long == short + ending for ending in ("s", "es", "d", "ed", "e")):
            continue
        wrong[word] = target
    assert not wrong, f"add to PROTECTED: {wrong}"


# -- api --------------------------------------------------------------------------


def test_to_json_dict_shape(matcher: Matcher) -> None:
    close = to_json_dict(matcher.match("back"))
    assert list(close) == ["text", "area", "red_flag", "ask", "denied", "score", "candidates"]
    assert close["area"] is None
    assert all(set(c) == {"area", "score"} for c in close["candidates"])
    assert to_json_dict(MatchResult("x", "neck", None, 90.0, (), None, ("blood_clot",))) == {
        "text": "x",
        "area": "neck",
        "red_flag": None,
        "ask": None,
        "denied": ["blood_clot"],
        "score": 90.0,
        "candidates": [],
    }
    assert Candidate("neck", 1.0).area == "neck"


def test_cached_result_is_the_same(matcher: Matcher) -> None:
    assert matcher.match("calves") == matcher.match("calves") == matcher.match_uncached("calves")


def test_area_names_count_as_aliases(content: Content, matcher: Matcher) -> None:
    for area in content.areas:
        result = matcher.match(area.name)
        assert area.id == result.area or area.id in {c.area for c in result.candidates}, area.name


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_a_well_formed_result(text: str) -> None:
    result = _MATCHER.match(text)
    assert 0.0 <= result.score <= 100.0
    assert result.area is None or result.area in AREA_IDS
    if result.red_flag is not None:
        assert result.area is None
    if result.area is not None:
        assert result.candidates == ()
    assert len(result.candidates) in (0, 2, 3)


_MATCHER = Matcher(load_content())


# -- the labelled set -------------------------------------------------------------


def test_labelled_set(matcher: Matcher, labelled: dict[str, Any], content: Content) -> None:
    flag_ids = {f.id for f in content.red_flags}
    assert set(labelled["areas"]) == set(AREA_IDS)
    assert set(labelled["warnings"]) == flag_ids
    lines: list[str] = []

    area_total = area_ok = 0
    area_misses: list[str] = []
    for area, texts in labelled["areas"].items():
        assert len(texts) >= 12, area
        ok = sum(matcher.match(t).area == area for t in texts)
        area_misses += [
            f"{area}: {t!r} -> {to_json_dict(matcher.match(t))}"
            for t in texts
            if matcher.match(t).area != area
        ]
        area_total += len(texts)
        area_ok += ok
        lines.append(f"  {area:<16} {ok:>3}/{len(texts):<3} {100 * ok / len(texts):5.1f}%")

    warn_total = warn_flagged = warn_exact = 0
    warn_misses: list[str] = []
    for flag, texts in labelled["warnings"].items():
        assert len(texts) >= 4, flag
        results = [matcher.match(t) for t in texts]
        # caught: a stop, or the one yes/no question about it
        flagged = sum(r.red_flag is not None or r.ask is not None for r in results)
        exact = sum((r.red_flag or r.ask) == flag for r in results)
        warn_misses += [
            f"{flag}: {r.text!r} -> {r.red_flag or r.ask}" for r in results if (r.red_flag or r.ask) != flag
        ]
        warn_total += len(texts)
        warn_flagged += flagged
        warn_exact += exact
        lines.append(f"  {flag:<16} {flagged:>3}/{len(texts):<3} flagged, {exact} with this id")

    out = labelled["out_of_scope"]
    assert len(out) >= 30
    rejected = [matcher.match(str(t)) for t in out]
    out_ok = sum(r.area is None and r.red_flag is None and not r.candidates for r in rejected)

    close = labelled["close_calls"]
    close_ok = 0
    for case in close:
        r = matcher.match(case["text"])
        close_ok += r.area is None and {c.area for c in r.candidates} == set(case["areas"])

    total = area_total + warn_total + len(out) + len(close)
    assert total >= 250
    print(f"\nlabelled set: {total} utterances")
    print(f"areas top-1:   {area_ok}/{area_total} = {100 * area_ok / area_total:.1f}%")
    print(f"warnings:      {warn_flagged}/{warn_total} flagged, {warn_exact}/{warn_total} with the right id")
    print(f"out of scope:  {out_ok}/{len(out)} = {100 * out_ok / len(out):.1f}% rejected")
    print(f"close calls:   {close_ok}/{len(close)}")
    print("\n".join(lines))
    print("misses:\n  " + "\n  ".join(area_misses + warn_misses))

    assert area_ok / area_total >= 0.95
    assert warn_flagged == warn_total
    assert warn_exact / warn_total >= 0.9
    assert out_ok / len(out) >= 0.90
    assert close_ok == len(close)


# -- in the conversation ----------------------------------------------------------


@pytest.mark.parametrize("text", ["back of my knee", "front of my neck"])
def test_zone_to_avoid_typed_as_the_area_says_avoid_and_asks_again(
    core_driver: CoreDriver, text: str
) -> None:
    content = core_driver.env.content
    core_driver.command("massage")
    core_driver.press(content.text("button.none_apply"))
    assert core_driver.state.step is Step.AREA
    d = core_driver.text(text)
    reply = core_reply_text(d)
    assert content.red_flag("avoid_zone").reply in reply
    assert content.severities[Severity.AVOID_SPOT] in reply
    assert d.state.step is Step.AREA and d.state.area is None and d.state.candidates == ()
    for area in content.areas:
        assert area.where not in reply  # no area was confirmed


# -- held-out and development sets (docs/matching.md) -------------------------------

SETS = Path(__file__).parent / "data"
DEVELOPMENT = [
    "dev_en.yaml",
    "dev2_en.yaml",
    "dev3_en.yaml",
    "dev4_en.yaml",
    "dev5_en.yaml",
    "dev6_en.yaml",
    "dev7_en.yaml",
    "dev8_en.yaml",
    "dev9_en.yaml",
    "dev10_en.yaml",
    "dev11_en.yaml",
    "dev12_en.yaml",
    "dev13_en.yaml",
]


def scored(
    matcher: Matcher,
    content: Content,
    names: list[str],
    *,
    least: tuple[int, int, int] = (150, 140, 20),
    unread: bool = False,
) -> dict[str, float]:
    """The figures of labelled sets with at least ``least`` (warning, area, out-of-scope) rows;
    an ``unread`` held-out set's rows are never printed (a failing test shows its figures only)."""
    rows = [row for name in names for row in load_rows(SETS / name)]
    report = evaluate(matcher, rows, "+".join(names), {f.id for f in content.red_flags}, AREA_IDS_SET)
    print("\n" + format_report(report, rows=not unread))
    warnings, areas, out_of_scope = least
    assert report.warnings >= warnings and report.areas >= areas and report.out_of_scope >= out_of_scope
    assert set(report.per_area) == set(AREA_IDS)
    assert set(report.per_sign) == {f.id for f in content.red_flags}
    return report.figures()


AREA_IDS_SET = set(AREA_IDS)


def test_the_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout_en.yaml is frozen: never edit it, never tune content against its rows. The issue's
    targets hold: every warning sign caught, stops <= 1 %, questions <= 10 %, areas >= 95 %."""
    f = scored(matcher, content, ["heldout_en.yaml"])
    assert f["wrong_stops"] <= 0.01
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] == 1.0


def test_the_second_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout2_en.yaml (written independently, frozen before the mechanisms it measures were
    tuned): the targets hold for stops, questions and areas. Warning signs caught was 79/81 before
    dev8_en.yaml and is 81/81 after it, but its two misses had been read (docs/matching.md), so
    the floor stays at the clean figure."""
    f = scored(matcher, content, ["heldout2_en.yaml"], least=(80, 120, 15))
    assert f["wrong_stops"] <= 0.01
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.97


def test_the_third_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout3_en.yaml: written after all tuning, never read row by row (its confusion list has not
    been printed). Today's figures are floors against regression: caught 97 %, wrong stops 1.2 %
    (the targets are 100 % and <= 1 %: docs/matching.md), questions and areas meet the targets."""
    f = scored(matcher, content, ["heldout3_en.yaml"], least=(100, 140, 20), unread=True)
    assert f["wrong_stops"] <= 0.0125
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.97


def test_the_fourth_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout4_en.yaml: written before the dev10/dev11 tuning; about 20 rows of its confusion list
    were printed once by mistake, so it is scored by class only and nothing is tuned on it
    (docs/matching.md). Floors against regression: caught 97 % (116/119), wrong stops 1.2 %."""
    f = scored(matcher, content, ["heldout4_en.yaml"], least=(110, 150, 10), unread=True)
    assert f["wrong_stops"] <= 0.0125
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.97


def test_the_fifth_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout5_en.yaml: written after the dev10 tuning and never read row by row (the clean figure:
    121/122 caught, 0.6 % wrong stops before and after the dev11 tuning). The targets for stops,
    questions and areas hold; 99 % caught is the floor (target 100 %)."""
    f = scored(matcher, content, ["heldout5_en.yaml"], least=(120, 160, 10), unread=True)
    assert f["wrong_stops"] <= 0.01
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.99


def test_the_sixth_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout6_en.yaml: written after the dev11 tuning, before dev12, never read row by row. Its
    clean figures are floors: caught 94.9 % (112/118), wrong stops 3.4 %, areas 92 % (the targets
    are 100 %, <= 1 % and >= 95 %: docs/matching.md)."""
    f = scored(matcher, content, ["heldout6_en.yaml"], least=(110, 150, 10), unread=True)
    assert f["wrong_stops"] <= 0.035
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.92
    assert f["warnings_caught"] >= 0.949


def test_the_seventh_frozen_held_out_set(matcher: Matcher, content: Content) -> None:
    """heldout7_en.yaml: written after the dev12 tuning, before dev13, never read row by row. Its
    figures are floors: caught 97.4 % before dev13 (111/114; 112/114 after), wrong stops 1.2 %,
    questions 3 %, areas 95.9 %."""
    f = scored(matcher, content, ["heldout7_en.yaml"], least=(110, 150, 10), unread=True)
    assert f["wrong_stops"] <= 0.0125
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.974


def test_the_development_sets(matcher: Matcher, content: Content) -> None:
    """The sets the content was tuned against (4,328 rows): the same targets, caught >= 99 %."""
    f = scored(matcher, content, DEVELOPMENT)
    assert f["wrong_stops"] <= 0.01
    assert f["extra_questions"] <= 0.10
    assert f["area_top1"] >= 0.95
    assert f["warnings_caught"] >= 0.99
