"""Fixtures for tests that use the real database and delivery: SQLite always, PostgreSQL when reachable.

``database`` (for the repositories and the dispatcher) and ``e2e_database_url``
(for the whole bot, through ``make_settings`` in tests/e2e_fixtures.py) are
parametrised over both engines; the PostgreSQL case is skipped with a clear
reason when no server answers at ``KNOTBOT_TEST_POSTGRES_URL`` (default:
postgresql+asyncpg://127.0.0.1:5432/test, trust auth), and fails instead with
KNOTBOT_REQUIRE_POSTGRES=1. Each PostgreSQL test gets a new database of its own.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.attachments import Rendered
from bot.content_loader import load_content
from bot.delivery import Blocked, TemporaryFailure
from bot.domain.content import Content
from bot.domain.effects import Message
from bot.domain.matcher import Matcher
from bot.storage.db import Database
from bot.storage.migrations import upgrade

POSTGRES_URL = os.environ.get("KNOTBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://127.0.0.1:5432/test")
_pg_checked: dict[str, str | None] = {}


async def _postgres_problem() -> str | None:
    """None if PostgreSQL answers, else why not."""
    if "result" not in _pg_checked:
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            _pg_checked["result"] = "asyncpg is not installed"
            return _pg_checked["result"]
        db = Database(POSTGRES_URL)
        try:
            async with asyncio.timeout(5), db.engine.connect():
                pass
            _pg_checked["result"] = None
        except Exception as exc:
            _pg_checked["result"] = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
        finally:
            await db.dispose()
    return _pg_checked["result"]


async def require_postgres() -> None:
    """Skip (or fail, with KNOTBOT_REQUIRE_POSTGRES=1) when PostgreSQL does not answer."""
    problem = await _postgres_problem()
    if problem:
        if os.environ.get("KNOTBOT_REQUIRE_POSTGRES"):
            pytest.fail(problem)
        pytest.skip(problem)


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty database on the test server for one test (dropped after); yields its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    name = f"knotbot_t_{uuid.uuid4().hex[:12]}"
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


_template: dict[str, str] = {}  # name of this run's migrated template database, once made


def _dsn() -> str:
    """The test server's URL in asyncpg's form, for creating and dropping databases."""
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def migrated_postgres_database() -> AsyncIterator[str]:
    """A new database at the newest migration for one test (dropped after); yields its URL.

    The migrations run once per test run, into a template database; each test's
    database is a copy (``CREATE DATABASE ... TEMPLATE``), which is cheaper than
    migrating again. The template is dropped when the run ends.
    """
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    if "name" not in _template:
        name = f"knotbot_tpl_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        db = Database(base.set(database=name).render_as_string(hide_password=False))
        try:
            await upgrade(db)
        finally:
            await db.dispose()  # a template must have no connections when it is copied
        _template["name"] = name
    name = f"knotbot_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template["name"]}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this run's template database, if one was made."""
    name = _template.pop("name", None)
    if name is None:
        return

    async def drop() -> None:
        import asyncpg

        admin = await asyncpg.connect(_dsn())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="session")
def matcher(content: Content) -> Matcher:
    return Matcher(content)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables): a SQLite file, or a new PostgreSQL database for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'knotbot.db'}"
        return
    await require_postgres()
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def e2e_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The bot's database: a SQLite file it migrates itself, or a new migrated PostgreSQL database.

    The PostgreSQL case is skipped with the reason when no server answers
    (failed instead with KNOTBOT_REQUIRE_POSTGRES=1); see :func:`require_postgres`.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    await require_postgres()
    async with migrated_postgres_database() as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The database at the newest migration (``alembic upgrade head``)."""
    db = Database(database_url)
    await upgrade(db)
    yield db
    await db.dispose()


@dataclass
class Sent:
    chat_id: str
    message: Message
    attachment: Rendered | None = None


@dataclass
class RecordingTransport:
    """A transport that records messages and can be told to fail for some chats."""

    sent: list[Sent] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)  # chat -> failures left

    async def send(self, chat_id: str, message: Message, attachment: Rendered | None = None) -> None:
        if chat_id in self.blocked:
            raise Blocked("Forbidden: bot was blocked by the user")
        if self.flaky.get(chat_id, 0) > 0:
            self.flaky[chat_id] -= 1
            raise TemporaryFailure("502 Bad Gateway")
        self.sent.append(Sent(chat_id, message, attachment))

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [s.message.text for s in self.sent if chat_id is None or s.chat_id == chat_id]


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()
