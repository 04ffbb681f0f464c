"""Privacy: /privacy, /mydata and /delete in the pure core, on the database, and through Telegram.

Erasing and exporting work on every table with a ``person_id`` column; a test
here fails if a table is added that is neither per-person nor declared free of
personal data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from bot.adapters.telegram import COMMANDS
from bot.domain.actions import decode_action
from bot.domain.conversation import decide
from bot.domain.decision import Env
from bot.domain.effects import ForgetPerson, Reply, Toast
from bot.domain.events import Command, Press, Text, decode_press
from bot.domain.privacy import DELETE_NO, DELETE_YES
from bot.domain.state import State, Step
from bot.service import ConversationService
from bot.storage.db import Database
from bot.storage.models import Base, Person, ProcessedUpdate
from bot.storage.privacy import NOT_ABOUT_A_PERSON, export_person, personal_tables
from tests.e2e_helpers import running_bot
from tests.fakebotapi import FakeBotAPI
from tests.runtime_fixtures import Clock

# -- the pure core ------------------------------------------------------------------------


def _texts(decision: Any) -> str:
    return "\n".join(e.message.text for e in decision.effects if isinstance(e, Reply))


def test_privacy_says_what_why_how_long_and_how_to_delete(core_env: Env) -> None:
    decision = decide(State(), Command("privacy"), replace(core_env, retention_days=42))
    text = _texts(decision)
    for expected in ("What I keep", "42 days", "/mydata", "/delete", "never keep what you type"):
        assert expected in text, expected
    assert decision.state == State()


def test_privacy_in_a_session_asks_the_current_question_again(core_env: Env) -> None:
    state = State(step=Step.SCREENING, prompt=3, session=1)
    decision = decide(state, Command("privacy"), core_env)
    assert decision.state == state
    assert "Do any of these apply" in _texts(decision)


def test_mydata_sends_the_export_attachment(core_env: Env) -> None:
    decision = decide(State(), Command("mydata"), core_env)
    replies = [e for e in decision.effects if isinstance(e, Reply)]
    assert [r.message.attachment for r in replies] == ["mydata"]


def _confirm_buttons(decision: Any) -> dict[str, Press]:
    replies = [e for e in decision.effects if isinstance(e, Reply)]
    buttons = {b.label: decode_press(b.data) for r in replies for row in r.message.buttons for b in row}
    assert all(isinstance(p, Press) for p in buttons.values())
    return buttons  # type: ignore[return-value]


def test_delete_asks_first_and_erases_only_on_the_current_button(core_env: Env) -> None:
    state = State(step=Step.AREA, prompt=7, session=2)
    asked = decide(state, Command("delete"), core_env)
    assert asked.state == state and not any(isinstance(e, ForgetPerson) for e in asked.effects)
    buttons = _confirm_buttons(asked)
    yes = next(p for label, p in buttons.items() if "erase" in label.lower())
    assert yes.action == DELETE_YES and yes.prompt == 7
    done = decide(state, yes, core_env)
    assert any(isinstance(e, ForgetPerson) for e in done.effects)
    assert done.state == State()
    # the same button after the session moved on: stale, nothing erased
    moved = decide(state, Text("neck"), core_env).state
    late = decide(moved, yes, core_env)
    assert not any(isinstance(e, ForgetPerson) for e in late.effects)
    assert any(isinstance(e, Toast) for e in late.effects)
    # a forged privacy action: nothing erased
    forged = decide(state, Press(7, decode_action("priv:everything")), core_env)
    assert not any(isinstance(e, ForgetPerson) for e in forged.effects)


def test_keep_changes_nothing(core_env: Env) -> None:
    state = State(step=Step.AREA, prompt=7, session=2)
    kept = decide(state, Press(7, DELETE_NO), core_env)
    assert kept.state == state
    assert "nothing was erased" in _texts(kept)
    assert "Where is the knot?" in _texts(kept)


def test_privacy_commands_are_in_the_menu_and_help(core_env: Env) -> None:
    names = {name for name, _ in COMMANDS}
    assert {"privacy", "mydata", "delete"} <= names
    help_text = _texts(decide(State(), Command("help"), core_env))
    for name in ("/privacy", "/mydata", "/delete"):
        assert name in help_text


# -- the schema --------------------------------------------------------------------------


def test_every_table_is_per_person_or_declared_free_of_personal_data() -> None:
    personal = {t.name for t in personal_tables()}
    for table in Base.metadata.sorted_tables:
        if table.name == "people":
            continue
        assert table.name in personal or table.name in NOT_ABOUT_A_PERSON, (
            f"table {table.name!r}: give it a person_id (so /delete and /mydata cover it) "
            "or list it in bot.storage.privacy.NOT_ABOUT_A_PERSON"
        )


def test_no_column_holds_names_or_free_text() -> None:
    forbidden = ("name", "first_name", "last_name", "username", "text", "message", "phone", "latitude")
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            assert column.name not in forbidden, f"{table.name}.{column.name}"


# -- on the database ---------------------------------------------------------------------


async def _run_session(service: ConversationService, chat: str, first_update: int) -> int:
    """A person does one round and finishes; returns the next update id."""
    uid = first_update
    events: list[Any] = [Command("start"), Command("massage")]
    state_actions = ["none", None, "found", None, None, "len:30", "start", "int:right", "knot:softer"]
    for event in events:
        await service.handle("telegram", chat, chat, event, update_id=uid)
        uid += 1
    await service.handle(
        "telegram", chat, chat, Press(0, decode_action("x")), update_id=uid
    )  # a stale press: harmless
    uid += 1
    for action in state_actions:
        state = await _state(service.db, chat)
        if action is None:
            if state.step is Step.AREA:
                event: Any = Text("my upper back hurts")
            elif state.step is Step.TOOL:
                event = Press(state.prompt, decode_action("tool:ball"))
            else:
                event = Press(state.prompt, decode_action("tech:static_pressure"))
        else:
            event = Press(state.prompt, decode_action(action))
        await service.handle("telegram", chat, chat, event, update_id=uid)
        uid += 1
    return uid


async def _state(db: Database, chat: str) -> State:
    from bot.storage.repositories import Conversations

    async with db.transaction() as session:
        person = (await session.execute(select(Person).where(Person.external_id == chat))).scalar_one()
        return await Conversations(session).load(person.id)


async def _rows_of(db: Database, person_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with db.transaction() as session:
        for table in personal_tables():
            n = await session.scalar(
                select(func.count()).select_from(table).where(table.c.person_id == person_id)
            )
            counts[table.name] = int(n or 0)
        counts["people"] = int(await session.scalar(select(func.count()).where(Person.id == person_id)) or 0)
    return counts


async def test_export_and_erase_cover_every_row_and_only_that_person(
    database: Database, content: Any, matcher: Any, clock: Clock
) -> None:
    service = ConversationService(database, content, matcher, clock=clock)
    uid = await _run_session(service, "111", 1)
    await _run_session(service, "222", uid + 100)
    async with database.transaction() as session:
        ann = (await session.execute(select(Person).where(Person.external_id == "111"))).scalar_one()
        bob = (await session.execute(select(Person).where(Person.external_id == "222"))).scalar_one()
        export = await export_person(session, ann.id)
    assert export is not None
    assert export["person"]["external_id"] == "111"
    assert [r["area"] for r in export["session_rounds"]] == ["upper_back"]
    assert export["conversations"][0]["state"]["step"] == "next"
    assert export["scheduled_messages"], "the messages sent are part of the export"
    assert "my upper back hurts" not in json.dumps(export), "free text is never stored"
    before_bob = await _rows_of(database, bob.id)

    state = await _state(database, "111")
    asked = await service.handle("telegram", "111", "111", Command("delete"), update_id=9000)
    assert asked.replies and not asked.direct
    done = await service.handle("telegram", "111", "111", Press(state.prompt, DELETE_YES), update_id=9001)
    assert not done.replies and next(d.message.text for d in done.direct).startswith("Done: I've erased")
    assert set((await _rows_of(database, ann.id)).values()) == {0}
    assert await _rows_of(database, bob.id) == before_bob
    async with database.transaction() as session:
        assert await session.get(ProcessedUpdate, 9001) is not None  # update ids only: no person in them

    # a later /start is a fresh start
    again = await service.handle("telegram", "111", "111", Command("start"), update_id=9002)
    assert "Hi, I'm Knotbot" in again.replies[0].message.text
    fresh = await _state(database, "111")
    assert fresh.session == 0 and fresh.step is Step.IDLE


# -- through Telegram ---------------------------------------------------------------------


async def test_mydata_and_delete_through_telegram(api: FakeBotAPI, make_settings: Callable[..., Any]) -> None:
    settings = make_settings()
    async with running_bot(settings):
        ann = api.user(5151, "Ann")
        await ann.send_command("start")
        await ann.wait_for("Tap Begin")
        await ann.send_command("privacy")
        await ann.wait_for("180 days")
        await ann.send_command("mydata")
        await ann.wait_for("everything I keep about you")
        await ann.wait_idle()
        documents = api.calls_to("sendDocument", ok=True)
        assert len(documents) == 1
        upload = documents[0].params["document"]
        exported = json.loads(upload.data)
        assert exported["data"]["person"]["external_id"] == "5151"
        assert "Ann" not in upload.data.decode(), "names are never stored"
        await ann.send_command("delete")
        await ann.wait_for("Erase everything?")
        await ann.press("Yes, erase")
        await ann.wait_for("I've erased everything")
        await ann.wait_idle()
        assert any(a.get("text") == "Erased" for a in ann.callback_answers)
        db = Database(settings.database_url)
        async with db.transaction() as session:
            people = (await session.execute(select(func.count()).select_from(Person))).scalar_one()
        await db.dispose()
        assert people == 0
        await ann.press("Yes, erase")  # a double tap after erasing: nothing to erase, no error
        await ann.wait_idle()
        await ann.send_command("start")
        await ann.wait_for("Hi, I'm Knotbot")
    api.assert_no_server_errors()
