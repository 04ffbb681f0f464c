"""Alembic migrations on SQLite and PostgreSQL: upgrade head, no drift from the models, start-up checks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.migrations import (
    REVISION_COMMAND,
    SchemaError,
    _first_revision,
    current_revisions,
    ensure_current,
    script_heads,
    upgrade,
)
from bot.storage.models import Base

REPO = Path(__file__).resolve().parent.parent


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_head_matches_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db)
        assert await current_revisions(db) == script_heads()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert not diff, (
            f"bot/storage/models.py and the migrations differ on {db.url.get_backend_name()}: run "
            f"`{REVISION_COMMAND}` and commit the new file in bot/storage/migrations/versions/.\n{diff}"
        )
        await upgrade(db)  # a second upgrade is a no-op
    finally:
        await db.dispose()


def test_one_head() -> None:
    assert len(script_heads()) == 1, f"several migration heads {script_heads()}: merge them (alembic merge)"


async def test_two_upgrades_at_once_both_succeed(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(2)]
    try:
        await asyncio.gather(*(upgrade(db) for db in dbs))
        assert await current_revisions(dbs[0]) == script_heads()
    finally:
        for db in dbs:
            await db.dispose()


async def test_a_database_made_by_create_all_is_adopted(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        # the tables of the first revision without alembic_version: what `knotbot db upgrade` made
        # with create_all before migrations existed
        await upgrade(db, _first_revision())
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
        assert await current_revisions(db) == set()
        await upgrade(db)
        assert await current_revisions(db) == script_heads()
    finally:
        await db.dispose()


async def test_sqlite_migrates_itself_and_others_refuse_when_behind(database_url: str) -> None:
    db = Database(database_url)
    try:
        if db.is_sqlite:
            await ensure_current(db, migrate=True)
            assert await current_revisions(db) == script_heads()
        else:
            try:
                await ensure_current(db, migrate=False)
            except SchemaError as exc:
                assert str(exc) == "database schema is behind: run `knotbot db upgrade`"
            else:
                raise AssertionError("an empty schema was accepted")
    finally:
        await db.dispose()


def test_the_bot_refuses_to_start_on_a_schema_that_is_behind(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        return  # SQLite migrates itself (see above)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KNOTBOT_", "TELEGRAM_"))},
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": "123456:SCHEMA-TEST-not-real",
        "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",
        "KNOTBOT_WEBHOOK_URL": "https://bot.example.test/hook",
        "KNOTBOT_WEBHOOK_SECRET": "schema-test-secret-16",
        "PYTHONPATH": str(REPO),
    }
    for command in ("run", "webhook"):
        done = subprocess.run(
            [sys.executable, "-m", "bot", command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            "knotbot: database schema is behind: run `knotbot db upgrade`"
        )
