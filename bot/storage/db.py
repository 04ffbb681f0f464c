"""The engine and the one transaction boundary every update, timer and job goes through.

On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's
documented aiosqlite recipe), so the write lock is taken up front and two
writers never deadlock on a lock upgrade; WAL mode lets readers carry on.
On PostgreSQL row and advisory locks do the same job per person.
:meth:`Database.probe` turns a database that cannot be reached or opened at
start-up into one :class:`DatabaseUnavailable` line, with the password masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bot.storage.models import Base

# advisory lock class of the per-process claimer keys (LOCK_CLASS + 1 of bot.storage.leader)
CLAIMER_LOCK_CLASS = 0x6B6E6F75
# where a transaction's session finds this process's claimer key (Schedule reads it)
CLAIMER = "knotbot_claimer"


def _sqlite_recipe(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, emit BEGIN
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _open_sqlite(path: str) -> None:
    sqlite3.connect(path).close()


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one line, password masked."""


class Database:
    """Owns the engine; hands out one session per unit of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 5}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_recipe(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: this process's claimer key, while it holds the key's advisory lock
        self.claimer: int | None = None
        self._claimer_engine: AsyncEngine | None = None
        self._claimer_conn: AsyncConnection | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: safe to print and log."""
        return self.url.render_as_string(hide_password=True)

    async def probe(self) -> None:
        """Open and close one connection; raise :class:`DatabaseUnavailable` if that fails."""
        path = self.url.database
        if self.is_sqlite and path and path != ":memory:" and not path.startswith("file:"):
            # first with the standard library: a file aiosqlite cannot open fails in its worker
            # thread, which may print a traceback of its own while the process exits
            try:
                await asyncio.to_thread(_open_sqlite, path)
            except sqlite3.Error as exc:
                raise DatabaseUnavailable(f"cannot open the database at {self.safe_url} ({exc})") from exc
        try:
            async with self.engine.connect():
                pass
        except OSError as exc:  # refused, unknown host, timed out: asyncpg raises these unwrapped
            raise DatabaseUnavailable(f"cannot reach the database at {self.safe_url} ({_why(exc)})") from exc
        except DBAPIError as exc:  # the server or SQLite said no: unknown role or database, bad file
            reason = _first_line(exc.orig if exc.orig is not None else exc)
            if self.url.password:
                reason = reason.replace(str(self.url.password), "***")
            raise DatabaseUnavailable(f"cannot open the database at {self.safe_url} ({reason})") from exc

    async def create_schema(self) -> None:
        """The newest schema, through the migrations (what ``knotbot db upgrade`` does)."""
        from bot.storage.migrations import upgrade  # the migrations import this module

        await upgrade(self)

    async def drop_schema(self) -> None:
        """Every table, the migrations' bookkeeping too (for benchmarks that start afresh)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))

    async def hold_claimer_lock(self) -> None:
        """PostgreSQL: take a key of this process's own and hold its session-level advisory lock on
        a dedicated connection for as long as the process lives. Claims record the key; once the
        process is gone (killed, its connection closed) the lock is free and other processes take
        its claims over at once. No-op on SQLite (one process: claims are released at start-up)."""
        if not self.is_postgres or self._claimer_conn is not None:
            return
        self._claimer_engine = create_async_engine(
            self.url.render_as_string(hide_password=False), poolclass=NullPool
        )
        conn = await self._claimer_engine.connect()
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        lock = text("SELECT pg_try_advisory_lock(:c, :k)")
        while True:
            key = secrets.randbelow(2**31 - 2) + 1
            if (await conn.execute(lock, {"c": CLAIMER_LOCK_CLASS, "k": key})).scalar_one():
                break
        self._claimer_conn, self.claimer = conn, key

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session, one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            session.info[CLAIMER] = self.claimer
            yield session

    async def run(self, work: Any, *, attempts: int = 5) -> Any:
        """Run ``await work(session)`` in a transaction, retrying briefly if the database is locked."""
        delay = 0.05
        for attempt in range(attempts):
            try:
                async with self.transaction() as session:
                    return await work(session)
            except OperationalError as exc:
                if attempt == attempts - 1 or not _is_transient(exc):
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        conn, self._claimer_conn, self.claimer = self._claimer_conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # the lock goes with the connection
        if self._claimer_engine is not None:
            await self._claimer_engine.dispose()
            self._claimer_engine = None
        await self.engine.dispose()


def _why(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"host not found: {exc.strerror}"
    return exc.strerror or _first_line(exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    # only errors raised before COMMIT could have taken effect: a lost connection is not retried,
    # since the commit may have succeeded (a retried update would then be applied twice)
    return any(s in text for s in ("locked", "busy", "deadlock", "could not serialize"))
