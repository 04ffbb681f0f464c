"""Which process runs the dispatcher: one at a time per database, so the bot-wide send rate holds.

On PostgreSQL the leader is whoever holds a session-level
``pg_try_advisory_lock`` on a dedicated connection (its own engine, no pool).
The others try again on their safety poll; when the leader dies its connection
closes, PostgreSQL releases the lock and the next poll elsewhere takes over.
Followers tell the leader about rows they scheduled with ``NOTIFY``, and the
leader ``LISTEN``s on its lock connection, so a prompt scheduled by one replica
is sent on time by another. Claims stay exclusive either way
(``FOR UPDATE SKIP LOCKED``); leadership is about the rate, not correctness.

On SQLite there is one process and it is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.storage.db import Database

log = logging.getLogger(__name__)

LOCK_CLASS = 0x6B6E6F74  # 'knot'; two-int advisory keys never collide with the per-person bigint locks
DISPATCH_LOCK = 1
WAKE_CHANNEL = "knotbot_dispatch"


class Leader(Protocol):
    """Leadership of the dispatcher, as the waker sees it."""

    @property
    def held(self) -> bool: ...

    async def acquire(self) -> bool:
        """True if this process leads now (keeps the lock it has, or takes a free one)."""
        ...

    def on_wake(self, callback: Callable[[datetime], None]) -> None:
        """While leading, call ``callback(due)`` when another process announces a row due then."""
        ...

    def announce(self, due: datetime) -> None:
        """A follower scheduled a row due at ``due``: tell the leader (fire and forget)."""
        ...

    async def release(self) -> None: ...


class SoleLeader:
    """One process (SQLite, the terminal): always the leader."""

    held = True

    async def acquire(self) -> bool:
        return True

    def on_wake(self, callback: Callable[[datetime], None]) -> None:
        return None

    def announce(self, due: datetime) -> None:
        return None

    async def release(self) -> None:
        return None


class AdvisoryLeader:
    """PostgreSQL: a session advisory lock held on a dedicated connection."""

    def __init__(self, db: Database, *, lock: int = DISPATCH_LOCK, channel: str = WAKE_CHANNEL) -> None:
        self.db = db
        self.lock = lock
        self.channel = channel
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._mutex = asyncio.Lock()
        self._callback: Callable[[datetime], None] | None = None
        self._announced: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def held(self) -> bool:
        return self._conn is not None

    def on_wake(self, callback: Callable[[datetime], None]) -> None:
        self._callback = callback

    async def acquire(self) -> bool:
        async with self._mutex:
            if self._conn is not None:
                try:
                    await self._conn.execute(text("SELECT 1"))
                    return True
                except Exception as exc:  # the connection is gone, and with it the lock
                    log.warning("lost the dispatcher lock connection: %s", type(exc).__name__)
                    await self._drop()
            return await self._try_take()

    async def _try_take(self) -> bool:
        if self._engine is None:
            url = self.db.url.render_as_string(hide_password=False)
            self._engine = create_async_engine(url, poolclass=NullPool)
        conn = await self._engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            taken = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": LOCK_CLASS, "k": self.lock}
                )
            ).scalar_one()
            if not taken:
                await conn.close()
                return False
            raw = await conn.get_raw_connection()
            await raw.driver_connection.add_listener(self.channel, self._notified)  # type: ignore[union-attr]
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        log.info("this process now runs the dispatcher")
        return True

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._callback is None:
            return
        try:
            due = datetime.fromtimestamp(float(payload), UTC)
        except ValueError:
            return
        self._callback(due)

    def announce(self, due: datetime) -> None:
        now = datetime.now(UTC)
        if self._announced is not None and now < self._announced <= due:
            return  # the leader already wakes earlier, and then reads every due row
        self._announced = due
        task = asyncio.get_running_loop().create_task(self._notify(due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, due: datetime) -> None:
        try:
            async with self.db.engine.connect() as conn:
                await conn.execute(
                    text("SELECT pg_notify(:ch, :p)"), {"ch": self.channel, "p": repr(due.timestamp())}
                )
                await conn.commit()
        except Exception as exc:  # the leader's safety poll still finds the row
            log.info("could not wake the dispatcher leader: %s", type(exc).__name__)
            self._announced = None

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()

    async def release(self) -> None:
        """Give up leadership (unlock, close); another process takes over on its next poll."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._mutex:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:c, :k)"), {"c": LOCK_CLASS, "k": self.lock}
                    )
                with contextlib.suppress(Exception):
                    await conn.close()
            if self._engine is not None:
                await self._engine.dispose()
                self._engine = None


def leader_for(db: Database) -> Leader:
    """The leadership that fits the database: an advisory lock on PostgreSQL, else this process."""
    if db.is_postgres:
        return AdvisoryLeader(db)
    return SoleLeader()
