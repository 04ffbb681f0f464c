"""Database migrations with Alembic, for SQLite and PostgreSQL alike.

The revision scripts live in ``versions/`` inside the ``bot`` package, so an
installed wheel finds them. What the rest of the bot uses:

* :func:`upgrade` — ``knotbot db upgrade``: bring the schema to the newest
  revision (on PostgreSQL under an advisory lock, so several replicas starting
  at once migrate one after another, not on top of each other);
* :func:`ensure_current` — called at start-up: SQLite installs migrate
  themselves, anything else refuses to start on a schema that is behind;
* :func:`make_revision` — ``knotbot db revision -m "..."``: autogenerate a new
  revision script from ``bot/storage/models.py``.

A database made by the old ``create_all`` (tables, no ``alembic_version``) is
stamped at the first revision, then upgraded.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.storage.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent
MIGRATION_LOCK_KEY = 0x6B6E6F74  # 'knot': one migration at a time per PostgreSQL database
REVISION_COMMAND = 'knotbot db revision -m "what changed"'


class SchemaError(Exception):
    """The database schema does not match this version of the bot; the message is one line."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration without an ini file, pointing at the packaged scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if Path(ruff).exists():  # generated scripts come out lint-clean and formatted
        cfg.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
        for name, options in (
            ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
            ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
        ):
            cfg.set_section_option("post_write_hooks", f"{name}.type", "exec")
            cfg.set_section_option("post_write_hooks", f"{name}.executable", ruff)
            cfg.set_section_option("post_write_hooks", f"{name}.options", options)
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def script_heads() -> set[str]:
    """The newest revision(s) this version of the bot knows."""
    return set(_scripts().get_heads())


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _first_revision() -> str:
    bases = _scripts().get_bases()
    if len(bases) != 1:
        raise SchemaError(f"expected one first migration, found {len(bases)}")
    return str(bases[0])


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(db: Database) -> set[str]:
    """The revision(s) recorded in the database (empty: never migrated)."""
    async with db.engine.connect() as conn:
        result: set[str] = await conn.run_sync(_current)
    return result


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and "people" in tables:
        command.stamp(cfg, _first_revision())  # made by create_all before migrations existed
    command.upgrade(cfg, revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """``alembic upgrade head`` on this database, in one transaction."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def ensure_current(db: Database, *, migrate: bool) -> None:
    """Start-up check: migrate (``migrate=True``, SQLite) or raise :class:`SchemaError` if behind."""
    current = await current_revisions(db)
    heads = script_heads()
    if current == heads:
        return
    unknown = current - _known_revisions()
    if unknown:
        raise SchemaError(
            f"database schema is newer than this knotbot (revision {', '.join(sorted(unknown))}): "
            "run a newer knotbot"
        )
    if not migrate:
        raise SchemaError("database schema is behind: run `knotbot db upgrade`")
    await upgrade(db)


def _revision(connection: Connection, message: str) -> list[str]:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    scripts = command.revision(cfg, message=message, autogenerate=True)
    items = scripts if isinstance(scripts, list) else [scripts]
    return [item.path for item in items if item is not None]


async def make_revision(message: str) -> list[str]:
    """Autogenerate a revision script: compares ``models.py`` with a scratch SQLite database at head."""
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            await upgrade(db)
            async with db.engine.begin() as conn:
                paths: list[str] = await conn.run_sync(_revision, message)
        finally:
            await db.dispose()
    return paths
