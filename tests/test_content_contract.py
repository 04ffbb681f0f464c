"""The content contract: every id resolves, every string key the code uses exists with the
placeholders the code fills in, no string is dead, and ``knotbot content check`` catches
broken content with one line naming the file and the key.

String keys are found by reading the code with ``ast``: calls of a function or method
named ``text`` or ``t`` (``content.text(key, **params)`` and its local alias ``t``).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.content_loader import DEFAULT_CONTENT_DIR, ContentError, load_content
from bot.domain.content import AREA_IDS, Content, Severity, placeholders
from bot.domain.conversation import INTENSITIES, KNOT_FEELS
from bot.domain.followups import ANSWERS as FOLLOWUP_ANSWERS
from bot.domain.matcher import normalise
from bot.domain.plan import EVERY_DAY

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
KEY_SHAPE = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$|^[a-z_]+$")

# f-string keys in the code, and what they expand to. A new f-string key must be added
# here (the test below fails until it is), so every expansion is checked.
F_STRING_KEYS: dict[str, set[str]] = {
    "button.check_{}": {f"button.check_{a}" for a in FOLLOWUP_ANSWERS},
    "button.knot_{}": {f"button.knot_{k}" for k in KNOT_FEELS},
    "button.intensity_{}": {f"button.intensity_{i}" for i in INTENSITIES},
    "rate.knot_{}": {f"rate.knot_{k}" for k in KNOT_FEELS},
    # "just right" gets no advice: the code guards it with `if intensity != "right"`
    "rate.intensity_{}": {f"rate.intensity_{i}" for i in INTENSITIES if i != "right"},
    "plan.day_{}": {f"plan.day_{d}" for d in EVERY_DAY},
}
# keys used only through a variable (``key = "a" if ... else "b"; t(key)``): found as
# string constants anywhere in the code; listed here only if that ever stops working.
DEAD_STRING_ALLOW_LIST: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Use:
    """One call of ``text``/``t`` with a string key."""

    where: str
    key: str  # the key, or the f-string pattern with ``{}`` for each interpolation
    params: frozenset[str]
    is_pattern: bool


def _python_files() -> list[Path]:
    files = sorted(BOT.rglob("*.py"))
    assert len(files) >= 10, files
    return files


def _callee_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _pattern(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value)
        else:
            parts.append("{}")
    return "".join(parts)


def _foreign_names(tree: ast.Module) -> set[str]:
    """Names imported from other libraries (``from sqlalchemy import text``): not string look-ups."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith("bot"):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def _uses() -> Iterator[Use]:
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        foreign = _foreign_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or _callee_name(node) not in ("text", "t") or not node.args:
                continue
            if isinstance(node.func, ast.Name) and node.func.id in foreign:
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            params = frozenset(k.arg for k in node.keywords if k.arg is not None)
            assert all(k.arg is not None for k in node.keywords), f"{where}: **kwargs hide the placeholders"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield Use(where, first.value, params, is_pattern=False)
            elif isinstance(first, ast.JoinedStr):
                yield Use(where, _pattern(first), params, is_pattern=True)


def _string_constants() -> set[str]:
    found = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="module")
def uses() -> list[Use]:
    found = list(_uses())
    assert len(found) >= 40, "the scan found too few string keys: is the ast walk still right?"
    return found


# -- ids -----------------------------------------------------------------------------------


def test_content_loads(content: Content) -> None:
    assert content.areas and content.tools and content.techniques and content.red_flags and content.strings


def test_every_catalogue_area_is_present_with_tools_that_resolve(content: Content) -> None:
    assert [a.id for a in content.areas] == list(AREA_IDS)
    tool_ids = {t.id for t in content.tools}
    for area in content.areas:
        assert area.tools, area.id
        for setup in area.tools:
            assert setup.tool in tool_ids, f"{area.id}: {setup.tool}"
            assert content.tool(setup.tool).id == setup.tool
        assert len({s.tool for s in area.tools}) == len(area.tools), f"{area.id}: a tool listed twice"


def test_ids_are_unique(content: Content) -> None:
    for kind, ids in (
        ("tools", [t.id for t in content.tools]),
        ("techniques", [t.id for t in content.techniques]),
        ("red_flags", [f.id for f in content.red_flags]),
    ):
        assert len(ids) == len(set(ids)), kind


def test_techniques_the_code_relies_on_exist(content: Content) -> None:
    ids = {t.id for t in content.techniques}
    assert {"static_pressure", "stripping"} <= ids
    assert sum(t.recommended for t in content.techniques) == 1


def test_every_warning_phrase_names_a_red_flag(content: Content) -> None:
    raw = yaml.safe_load((DEFAULT_CONTENT_DIR / "warning_phrases.yaml").read_text(encoding="utf-8"))
    flag_ids = {f.id for f in content.red_flags}
    assert raw["warning_phrases"], "no warning phrases"
    for flag_id in raw["warning_phrases"]:
        assert flag_id in flag_ids, flag_id


def test_every_alias_names_an_area(content: Content) -> None:
    for area_id in content.aliases:
        assert area_id in AREA_IDS, area_id


def test_every_severity_has_text_and_is_used(content: Content) -> None:
    for severity in Severity:
        assert content.severities[severity].strip(), severity
    used = {f.severity for f in content.red_flags}
    assert used == set(Severity), set(Severity) - used


def test_hold_lengths_and_prompts(content: Content) -> None:
    assert content.session.hold_seconds == [30, 45, 60]
    for technique in content.techniques:
        first = [
            p
            for p in content.session.prompts
            if p.at == 0 and (not p.techniques or technique.id in p.techniques)
        ]
        assert len(first) == 1, f"{technique.id}: needs exactly one prompt at the start of a hold"


def test_callback_data_of_every_button_fits_64_bytes(content: Content) -> None:
    from bot.domain.actions import Action, Area, Flag, Technique, Tool
    from bot.domain.events import encode_press

    longest_prompt = 10**12
    actions: list[Action] = [Flag(f.id) for f in content.red_flags]
    actions += [Area(a.id) for a in content.areas]
    actions += [Tool(t.id) for t in content.tools]
    actions += [Technique(t.id) for t in content.techniques]
    for action in actions:
        encode_press(longest_prompt, action)  # raises if too long


# -- string keys -----------------------------------------------------------------------------


def test_every_string_key_used_by_the_code_exists_with_matching_placeholders(
    content: Content, uses: list[Use]
) -> None:
    problems = []
    for use in uses:
        if use.is_pattern:
            continue
        if use.key not in content.strings:
            problems.append(f"{use.where}: missing string {use.key!r}")
            continue
        expected = placeholders(content.strings[use.key])
        if expected != use.params:
            problems.append(
                f"{use.where}: {use.key!r} expects {sorted(expected)}, code passes {sorted(use.params)}"
            )
    assert not problems, "\n".join(problems)


def test_hold_prompt_placeholders_match(content: Content, uses: list[Use]) -> None:
    calls = [u for u in uses if u.key == "hold.prompt"]
    assert calls
    for use in calls:
        assert placeholders(content.strings["hold.prompt"]) == use.params, use.where


def test_every_f_string_key_is_known_and_all_its_expansions_exist(content: Content, uses: list[Use]) -> None:
    patterns = {u.key for u in uses if u.is_pattern}
    assert patterns == set(F_STRING_KEYS), "add new f-string keys to F_STRING_KEYS with their expansions"
    problems = []
    for use in uses:
        if not use.is_pattern:
            continue
        for key in F_STRING_KEYS[use.key]:
            if key not in content.strings:
                problems.append(f"{use.where}: missing string {key!r} (from f-string {use.key!r})")
            elif placeholders(content.strings[key]) != use.params:
                problems.append(f"{use.where}: {key!r} placeholders differ from {sorted(use.params)}")
    assert not problems, "\n".join(problems)


def test_keys_used_through_a_variable_have_no_placeholders(content: Content, uses: list[Use]) -> None:
    """Keys picked into a variable first (``key = "a" if x else "b"``) are called without params."""
    direct = {u.key for u in uses if not u.is_pattern}
    expanded = set().union(*F_STRING_KEYS.values())
    indirect = (_string_constants() & set(content.strings)) - direct - expanded
    for key in indirect:
        assert not placeholders(content.strings[key]), key


def test_no_dead_strings(content: Content, uses: list[Use]) -> None:
    used = {u.key for u in uses if not u.is_pattern}
    used |= set().union(*F_STRING_KEYS.values())
    used |= _string_constants() & set(content.strings)
    dead = sorted(set(content.strings) - used - DEAD_STRING_ALLOW_LIST)
    assert not dead, f"strings.yaml keys no code uses: {dead}"
    stale_allow = sorted(DEAD_STRING_ALLOW_LIST - set(content.strings))
    assert not stale_allow, stale_allow


def test_every_template_formats_with_its_placeholders(content: Content) -> None:
    for key, template in content.strings.items():
        assert template.strip(), key
        names = placeholders(template)
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is not None:
                assert name.isidentifier(), f"{key}: positional or dotted placeholder {{{name}}}"
                assert not spec and not conversion, f"{key}: {{{name}}} has a format spec"
        filled = template.format(**{n: "X" for n in names})
        assert "{" not in filled and "}" not in filled, key


def _content_strings(content: Content) -> Iterator[tuple[str, str]]:
    for area in content.areas:
        for attr in ("name", "where", "knots_sit", "stretch"):
            yield f"areas.{area.id}.{attr}", getattr(area, attr)
        for i, zone in enumerate(area.avoid):
            yield f"areas.{area.id}.avoid[{i}]", zone
        for setup in area.tools:
            yield f"areas.{area.id}.tools.{setup.tool}", setup.setup
    for tool in content.tools:
        yield f"tools.{tool.id}.name", tool.name
        yield f"tools.{tool.id}.why", tool.why
    for tech in content.techniques:
        yield f"techniques.{tech.id}.name", tech.name
        yield f"techniques.{tech.id}.summary", tech.summary
    for flag in content.red_flags:
        for attr in ("label", "description", "reply"):
            yield f"red_flags.{flag.id}.{attr}", getattr(flag, attr)
    for severity, text in content.severities.items():
        yield f"severities.{severity.value}", text
    for i, prompt in enumerate(content.session.prompts):
        yield f"session.prompts[{i}]", prompt.text


def test_other_content_strings_have_no_braces_and_format_unchanged(content: Content) -> None:
    strings = list(_content_strings(content))
    assert len(strings) > 100
    for where, text in strings:
        assert text.strip(), where
        assert text.format() == text, where


def test_button_labels_are_short(content: Content) -> None:
    for key, template in content.strings.items():
        if key.startswith("button."):
            assert len(template.format(**{n: "Foam roller" for n in placeholders(template)})) <= 40, key
    for flag in content.red_flags:
        assert len(flag.label) <= 40, flag.id


# -- knotbot content check -------------------------------------------------------------------


def _content_check(cwd: Path, content_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOTBOT_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    if content_dir is not None:
        env["KNOTBOT_CONTENT_DIR"] = str(content_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", "content", "check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_content_check_passes(tmp_path: Path) -> None:
    result = _content_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "content ok" in result.stdout


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_content_check_missing_strings_file(tmp_path: Path, broken: Path) -> None:
    (broken / "strings.yaml").unlink()
    line = _error_line(_content_check(tmp_path, broken))
    assert "strings.yaml" in line


def test_content_check_bad_value_names_file_and_key(tmp_path: Path, broken: Path) -> None:
    _edit(broken / "session.yaml", "max_rounds: 3", "max_rounds: lots")
    line = _error_line(_content_check(tmp_path, broken))
    assert "session.yaml" in line
    assert "max_rounds" in line


def test_content_check_invalid_yaml_names_the_file(tmp_path: Path, broken: Path) -> None:
    (broken / "tools.yaml").write_text("tools: [unclosed\n", encoding="utf-8")
    result = _content_check(tmp_path, broken)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "tools.yaml" in result.stderr.splitlines()[0]


def test_content_check_unknown_top_level_key(tmp_path: Path, broken: Path) -> None:
    with (broken / "tools.yaml").open("a", encoding="utf-8") as f:
        f.write("\nhammers: []\n")
    line = _error_line(_content_check(tmp_path, broken))
    assert "tools.yaml" in line and "hammers" in line


def test_content_check_unknown_tool_names_areas_yaml_and_key(tmp_path: Path, broken: Path) -> None:
    _edit(broken / "areas.yaml", "tool: fingers", "tool: hammer")
    line = _error_line(_content_check(tmp_path, broken))
    assert "hammer" in line
    assert "areas.neck.tools" in line
    assert "areas.yaml" in line


def test_content_check_unknown_warning_sign_names_the_file(tmp_path: Path, broken: Path) -> None:
    _edit(broken / "warning_phrases.yaml", "  chest_pain:", "  chest_pains:")
    line = _error_line(_content_check(tmp_path, broken))
    assert "warning_phrases.yaml" in line
    assert "chest_pains" in line


def test_load_content_raises_content_error_for_a_missing_area(broken: Path) -> None:
    data = yaml.safe_load((broken / "areas.yaml").read_text(encoding="utf-8"))
    data["areas"] = [a for a in data["areas"] if a["id"] != "jaw"]
    (broken / "areas.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ContentError, match="jaw"):
        load_content(broken)


def test_content_check_a_cue_with_two_meanings_names_understanding_yaml(tmp_path: Path, broken: Path) -> None:
    _edit(broken / "understanding.yaml", "    pseudo: [not only,", "    pseudo: [maybe, not only,")
    line = _error_line(_content_check(tmp_path, broken))
    assert "understanding.yaml" in line and "'maybe'" in line, line


def test_content_check_a_warning_sign_without_its_question(tmp_path: Path, broken: Path) -> None:
    text = (broken / "screening.yaml").read_text(encoding="utf-8")
    start = text.index('    question: "Just to check: is your calf')
    end = text.index("\n", start) + 1
    (broken / "screening.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    line = _error_line(_content_check(tmp_path, broken))
    assert "screening.yaml" in line and "question" in line, line


def test_every_warning_sign_has_one_plain_yes_no_question(content: Content) -> None:
    for flag in content.red_flags:
        assert flag.question.startswith("Just to check: "), flag.id
        assert flag.question.endswith("?") and flag.question.count("?") == 1, flag.id
        assert len(flag.question) <= 200, flag.id


def test_every_cue_and_idiom_is_read_as_words(content: Content) -> None:
    """A cue that normalises to nothing (punctuation only, an emoji) would silently never match."""
    rules = content.understanding
    phrases = [
        *rules.negation.before,
        *rules.negation.after,
        *rules.negation.pseudo,
        *rules.hedges.before,
        *rules.hedges.after,
        *rules.terminators,
        *rules.clause_starts,
        *rules.locators,
        *rules.muscle_words,
        *rules.muscle_context,
        *rules.directions,
        *rules.idioms,
        *rules.idioms.values(),
    ]
    assert all(normalise(p) for p in phrases), [p for p in phrases if not normalise(p)]
