"""Fixtures for tests that use the real database and delivery: SQLite always, PostgreSQL when reachable.

``database`` is parametrised over both engines; the PostgreSQL case is skipped
with a clear reason when no server answers at ``KNOTBOT_TEST_POSTGRES_URL``
(default: postgresql+asyncpg://127.0.0.1:5432/test, trust auth).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
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


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="session")
def matcher(content: Content) -> Matcher:
    return Matcher(content)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'knotbot.db'}"
    problem = await _postgres_problem()
    if problem:
        if os.environ.get("KNOTBOT_REQUIRE_POSTGRES"):
            pytest.fail(problem)
        pytest.skip(problem)
    return POSTGRES_URL


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.drop_schema()
    await db.create_schema()
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
