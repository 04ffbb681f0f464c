"""The NegEx-style scope of negation and hedge cues (bot/domain/scope.py), on its own small cue
lists and then through the matcher with the real content: stated, denied, uncertain."""

from __future__ import annotations

import pytest

from bot.domain.content import CancelledCues, Content, Cues, NegationCues, Understanding
from bot.domain.matcher import Matcher, normalise
from bot.domain.scope import Polarity, Scope

D, U, S = Polarity.DENIED, Polarity.UNCERTAIN, Polarity.STATED

RULES = Understanding(
    window=3,
    after_window=2,
    negation=NegationCues(before=["no", "dont have"], after=["is gone"], pseudo=["no better"]),
    hedges=Cues(before=["maybe"], after=["or something"]),
    terminators=["but"],
    clause_starts=["my"],
)


def read(text: str, masked: set[int] = frozenset()) -> list[Polarity]:  # type: ignore[assignment]
    scope = Scope(RULES, normalise)
    words = scope.split_clauses(text.split())
    return scope.polarities(words, [i in masked for i in range(len(words))])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numb", [S]),
        ("no numb", [S, D]),  # the cue itself keeps its own polarity
        ("no a b c d", [S, D, D, D, S]),  # the window is 3 words
        ("dont have numb", [S, S, D]),  # the longest cue wins
        ("no numb but swollen", [S, D, S, S]),  # a terminator ends the scope
        ("no numb . swollen", [S, D, S, S]),  # so does a sentence end
        ("no fever , swollen", [S, D, S, U]),  # a comma: only possibly denied
        ("no numb , tingle or weak", [S, D, S, D, D, S]),  # a comma in a short "or" list: denied
        ("no fever and my calf", [S, D, S, U, U]),  # "and" before a clause start acts as a comma
        ("numb is gone", [D, S, S]),  # a cue after the mention
        ("numb , is gone", [D, S, S, S]),  # ... right after a comma: still denied
        ("numb , foot is gone", [U, S, D, S, S]),  # ... about something else: only possibly
        ("no better numb", [S, S, S]),  # a pseudo-cue is no negation
        ("maybe numb", [S, U]),
        ("numb or something", [U, S, S]),
        ("numb ?", [U, S]),
        ("numb ? no", [D, S, S]),  # a question answered at once with a negation
        ("numb ? maybe", [U, S, S]),
    ],
)
def test_polarities(text: str, expected: list[Polarity]) -> None:
    assert read(text) == expected


def test_a_masked_cue_is_part_of_a_symptom() -> None:
    """Inside a warning term ("no feeling") a negation word is the symptom, not a denial."""
    assert read("no feeling in foot", masked={0, 1}) == [S, S, S, S]
    assert read("no feeling in foot") == [S, D, D, D]


@pytest.fixture
def content(core_content: Content) -> Content:
    return core_content


@pytest.fixture
def matcher(core_matcher: Matcher) -> Matcher:
    return core_matcher


@pytest.mark.parametrize(
    ("text", "area", "denied"),
    [
        (
            "sore spot under my shoulder blade, I don't have any pins and needles",
            "upper_back",
            "nerve_symptoms",
        ),
        ("calf is tight but not swollen or red", "calves", "blood_clot"),
        ("no numbness or tingling, just a knot in my lower back", "lower_back", "nerve_symptoms"),
        ("the tingling is gone now, just my neck", "neck", "nerve_symptoms"),
        ("never had surgery, my glutes are tight", "glutes", "ask_first"),
        ("nope no fever, knot in my traps", "upper_traps", "infection"),
        ("pec knot. chest pain? nope, just the muscle", "chest", "chest_pain"),
    ],
)
def test_a_denial_goes_on_to_the_area(matcher: Matcher, text: str, area: str, denied: str) -> None:
    result = matcher.match(text)
    assert (result.area, result.red_flag, result.ask) == (area, None, None), result
    assert denied in result.denied


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("no fever but my calf is swollen and hot", "blood_clot"),  # the denial ends at "but"
        ("not only my back, it shoots down my leg", "nerve_symptoms"),  # a pseudo-cue
        ("my calf isn't tight, it is swollen and red", "blood_clot"),  # a new clause after the comma
        ("I can't feel my toes", "nerve_symptoms"),  # "can't feel" is a symptom, not a denial
        ("feels like an elephant is sitting on my chest", "chest_pain"),
        ("temp 38.9 and a hot red lump on my thigh", "infection"),  # a fever as a number
    ],
)
def test_stated_signs_still_stop(matcher: Matcher, text: str, flag: str) -> None:
    result = matcher.match(text)
    assert (result.red_flag, result.ask) == (flag, None), result


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("maybe a bit of tingling in my fingers?", "nerve_symptoms"),  # hedged
        ("I think my calf might be a bit swollen", "blood_clot"),
        ("tight pec from bench press, chest feels tight", "chest_pain"),  # a muscle word nearby
        ("calves are warm and heavy after my run", "blood_clot"),
        ("no fever, calf swollen and hot", "blood_clot"),  # a denial whose scope a comma blurs
        ("sore calf since my long flight", "blood_clot"),  # points at the sign, does not state it
        ("stiff neck and a bit dizzy", "head_neck"),
        ("its pretty severe", "severe_pain"),
    ],
)
def test_uncertain_signs_get_one_question(matcher: Matcher, text: str, flag: str) -> None:
    result = matcher.match(text)
    assert (result.red_flag, result.ask) == (None, flag), result


def test_a_stated_sign_waits_behind_a_more_urgent_possible_one(matcher: Matcher) -> None:
    """Swollen after a run: inflamed for sure, maybe a clot - ask about the clot, then inflammation."""
    result = matcher.match("my calf is swollen after my run")
    assert (result.red_flag, result.ask, result.then) == (None, "blood_clot", "inflammation")


def test_red_flag_and_ask_are_never_both_set(matcher: Matcher, content: Content) -> None:
    texts = [
        "no numbness but maybe tingling and my chest is tight",
        "my calf might be swollen and my face is drooping",
        "chest pain? maybe",
    ]
    for text in texts:
        result = matcher.match(text)
        assert not (result.red_flag and result.ask), result
        assert not set(result.denied) & {result.red_flag, result.ask}, result


def test_cue_lists_are_content(content: Content) -> None:
    """The trigger lists live in content/understanding.yaml, not in the code."""
    rules = content.understanding
    assert "no" in rules.negation.before and "not only" in rules.negation.pseudo
    assert "maybe" in rules.hedges.before and "but" in rules.terminators


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("had breast cancer years ago, new ache in my upper back", "systemic"),  # a history that counts
        ("had a dvt in 2015 and my calf is swollen again", "blood_clot"),  # "again": now
        ("osteoporosis since my fifties, knot in my lower back", "ask_first"),
        ("sunburnt shoulders, all peeling and raw, and my traps are in knots", "open_wound"),  # next to it
        ("my toddler headbutted me in the jaw and now it clicks and hurts", "injury"),  # acts on me
        ("felt a pop in my hamstring when I was sprinting", "injury"),  # no age: not long ago
        ("in the film my chest started hurting and I had to leave", "chest_pain"),  # "i": the person
        ("Mum is confused all of a sudden and her face looks lopsided", "stroke_signs"),  # a bystander
        ("my words came out funny because I was speaking French", "stroke_signs"),  # asked, not stopped
    ],
)
def test_lasting_histories_signs_now_and_next_to_the_knot_still_count(
    matcher: Matcher, text: str, flag: str
) -> None:
    result = matcher.match(text)
    assert flag in (result.red_flag, result.ask), result


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("cut my finger but the knot is in my forearm", "forearm"),  # a part that is no area here
        ("rash on my chest, knot in my calf", "calves"),  # an area that does not border the knot's
        ("had a hot bath and my calf is still tight", "calves"),  # "hot" describes the bath
        ("writing a report on cancer screening all day, jaw tight from clenching", "jaw"),
        ("my mate had a blood clot in his leg last year, mine is just a calf knot", "calves"),
        ("calfs are tight cuz of heels all day at work", "calves"),  # tight calves, not tight shoes
        # no one real (a film, a game, a song), or someone else's sign that is no bystander's emergency
        ("watched a film where a guy has a heart attack, my traps are tight", "upper_traps"),
        ("in my game my character got hit by a car lol, lower back tight from sitting", "lower_back"),
        (
            "my toddler wet himself at the park and I carried him all the way home, upper back knot",
            "upper_back",
        ),
        ("broke my wrist when I was nine, now I just have a tight forearm from climbing", "forearm"),
    ],
)
def test_signs_elsewhere_or_describing_something_else_do_not_stop(
    matcher: Matcher, text: str, area: str
) -> None:
    result = matcher.match(text)
    assert (result.area, result.red_flag, result.ask) == (area, None, None), result


def test_a_numb_bottom_after_sitting_is_asked_about_not_stopped(matcher: Matcher) -> None:
    sitting = matcher.match("numb bum from sitting all day")
    assert (sitting.red_flag, sitting.ask) == (None, "bladder_bowel")
    assert matcher.match("numb bum and I can't feel when I need to pee").red_flag == "bladder_bowel"


@pytest.mark.parametrize(
    ("text", "area", "denied"),
    [
        ("my dad has varicose veins, I just have a tight calf", "calves", "varicose_veins"),  # someone else's
        ("my sister had a DVT once so I'm careful, my calves are just tight", "calves", "blood_clot"),
        ("pins and needles, gone now, just my upper back", "upper_back", "nerve_symptoms"),  # ends its clause
        ("had a fall but that's long healed, knot in my upper back", "upper_back", "injury"),
        ("the rash has cleared up, knot in my calves", "calves", "open_wound"),
        ("lost 2 kilos on purpose on my diet, hamstrings are tight", "hamstrings", "systemic"),
        # a list or a question answered as a whole
        ("fever, rash, bruise? none of those. just a knot in my arch", "feet", "infection"),
        (
            "numbness, tingling, weakness - nope to all. just a tight neck at the back",
            "neck",
            "nerve_symptoms",
        ),
        # long ago (ConText's historical), for the whole clause
        ("sprained my ankle as a teenager, knot in my calf now", "calves", "injury"),
        ("when i was 20 i broke my wrist, forearm knot these days", "forearm", "injury"),
        ("my knee had surgery back in 2005, the knot is in my quad", "quads", "ask_first"),
        (
            "used to get pins and needles in my hand but not anymore, forearm knot though",
            "forearm",
            "nerve_symptoms",
        ),
        ("had a fever last month, all better now, knot at the back of my neck", "neck", "infection"),
        ("stopped taking blood thinners last year, knot on top of my shoulder", "upper_traps", "ask_first"),
    ],
)
def test_someone_elses_resolved_long_past_or_listed_signs_are_denied(
    matcher: Matcher, text: str, area: str, denied: str
) -> None:
    result = matcher.match(text)
    assert (result.area, result.red_flag, result.ask) == (area, None, None), result
    assert denied in result.denied


@pytest.mark.parametrize(
    ("text", "flag", "stop"),
    [
        ("Mum is confused all of a sudden and her face looks lopsided", "stroke_signs", True),  # act now
        ("my wife says my face is drooping", "stroke_signs", True),  # she reports the person's own
        ("my dad had a stroke, my neck is tight", "stroke_signs", False),  # someone else's, past: ask
        ("my calf feels tight and warm and it's gone red", "blood_clot", True),  # "gone red" is a change
    ],
)
def test_emergencies_and_changes_are_not_explained_away(
    matcher: Matcher, text: str, flag: str, stop: bool
) -> None:
    result = matcher.match(text)
    assert (result.red_flag if stop else result.ask) == flag, result


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("knot in my bicep, near my elbow", None),  # a body part that is no area here
        ("knot a few fingers below my elbow on top of my forearm", "forearm"),  # a measure; the landmark
        ("middle of the back of my left thigh", "hamstrings"),  # "the back of" the thigh
        ("the back of my arm", None),  # a side of a part that is no area
        ("my neck, at the back", "neck"),  # a direction word alone only locates
        ("heels all day at work, now my calves", "calves"),  # shoes, not the feet
        ("knot on my shoulder blade", "shoulder"),  # content: the shoulder area includes the blade
        ("knot under my shoulder blade", "upper_back"),
    ],
)
def test_where_the_knot_is(matcher: Matcher, text: str, area: str | None) -> None:
    result = matcher.match(text)
    assert result.area == area and result.red_flag is None, result


def test_two_landmarks_give_a_close_call(matcher: Matcher) -> None:
    """Beside the spine, below the neck: both only locate, so the bot asks which area."""
    result = matcher.match("the knot next to my spine just below my neck")
    assert result.area is None and result.red_flag is None
    assert "upper_back" in {c.area for c in result.candidates}


def test_a_cue_after_the_mention_in_a_question_asks_and_does_not_deny() -> None:
    """ "numb is gone?" asks whether it is gone: only possible, never a denial."""
    rules = RULES.model_copy(update={"negation": NegationCues(before=["no"], after=["normal"])})
    scope = Scope(rules, normalise)
    assert scope.polarities(["numb", "normal", "?"], [False] * 3) == [U, U, S]
    assert scope.polarities(["numb", "normal"], [False] * 2) == [D, S]


def test_a_hedge_across_a_comma_leaves_a_denial_standing() -> None:
    """ "no numb , or something": the hedge is a clause of its own; the denial before it stands."""
    assert read("no numb , or something")[1] is D
    assert read("numb , or something")[0] is U  # nothing denied it: the hedge still reaches back


def test_a_double_negation_states_the_mention() -> None:
    """ "cant breathe without chest hurting": a "without" after an inability denies nothing."""
    rules = RULES.model_copy(
        update={
            "negation": NegationCues(
                before=["no", "without"],
                after=["is gone"],
                cancelled=CancelledCues(cues=["without"], by=["cant"]),
            )
        }
    )
    scope = Scope(rules, normalise)
    words = ["cant", "breathe", "without", "chest", "hurting"]
    assert scope.polarities(words, [False] * 5)[3:] == [S, S]
    words = ["breathe", "without", "chest", "hurting"]
    assert scope.polarities(words, [False] * 4)[2:] == [D, D]
    words = ["cant", "sleep", ",", "without", "chest", "hurting"]  # another clause: a denial again
    assert scope.polarities(words, [False] * 6)[4:] == [D, D]


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        # an inability is a symptom: "haven't been able to feel" is "can't feel"
        ("havent been able to feel my toes properly since monday", "nerve_symptoms"),
        ("i have not been able to control my bladder since my back went", "bladder_bowel"),
        ("unable to lift the front of my foot, it catches on the stairs", "nerve_symptoms"),
        ("couldnt feel my toes this morning", "nerve_symptoms"),
        ("couldnt hold my pee on the way home", "bladder_bowel"),
        # a double negation states the pain
        ("can't take a deep breath without my chest hurting", "chest_pain"),
        # a comparative is its symptom
        ("the spot on my shoulder is redder and hotter than yesterday", "inflammation"),
        # a few words between the parts of a term, in one clause
        ("nothing i have tried so far helps with my lower back", "persistent_pain"),
        # how long, not how many: "for 7 weeks" is "for weeks"
        ("my neck has hurt for 7 weeks even with the massage", "persistent_pain"),
        # "is that normal?" asks; it does not answer "isn't getting better"
        ("my trap isnt getting better after a month, is that normal?", "persistent_pain"),
    ],
)
def test_mechanisms_catch_the_sign(matcher: Matcher, text: str, flag: str) -> None:
    result = matcher.match(text)
    assert flag in (result.red_flag, result.ask), result


@pytest.mark.parametrize(
    ("text", "denied"),
    [
        ("not severe, maybe a 4/10, lower back", "severe_pain"),  # the hedge is the next clause
        ("wrist no longer numb, forearm tight from typing", "nerve_symptoms"),  # "no longer" denies
        ("the bruise faded weeks ago, quads tight", "bruising"),  # over, in other words
    ],
)
def test_mechanisms_read_the_denial(matcher: Matcher, text: str, denied: str) -> None:
    result = matcher.match(text)
    assert result.red_flag is None and result.ask is None and denied in result.denied, result


@pytest.mark.parametrize(
    "text",
    [
        "nothing serious, the massage helps a lot with my calves",  # the gap never crosses a comma
        "cant reach the spot between my shoulder blades",  # an inability that is no sign
        "hay fever is awful this week",  # a saying, not a fever
    ],
)
def test_mechanisms_do_not_invent_a_sign(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    assert result.red_flag is None and result.ask is None, result


def test_comparatives_follow_the_spelling_rules() -> None:
    from bot.domain.matcher import comparatives

    assert comparatives("red") == ("redder", "reddest")
    assert comparatives("puffy") == ("puffier", "puffiest")
    assert comparatives("sore") == ("sorer", "sorest")
    assert comparatives("warm") == ("warmer", "warmest")
