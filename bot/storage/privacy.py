"""Everything stored about one person: export it (/mydata) and erase it (/delete).

Both work on every table that has a ``person_id`` column, found from the
models, so a table added later is exported and erased without touching this
module. Tables without one must be listed in :data:`NOT_ABOUT_A_PERSON`
(tests/test_privacy.py fails otherwise). Like the repositories, nothing here
commits: the caller owns the transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Base, Person

# tables that hold nothing about a person: update ids, picture file ids, group chat ids
NOT_ABOUT_A_PERSON = frozenset({"processed_updates", "media_files", "group_chats", "alembic_version"})
# internal bookkeeping columns left out of the export (they mean nothing to the person)
EXPORT_SKIP_COLUMNS = frozenset({"lease_until", "attempts", "version"})


def personal_tables() -> list[Table]:
    """Tables with a ``person_id`` column, children first (safe order for deleting)."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "person_id" in t.c]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(table: Table, row: Any) -> dict[str, Any]:
    return {
        column.name: _plain(row._mapping[column])
        for column in table.columns
        if column.name not in EXPORT_SKIP_COLUMNS
    }


async def export_person(session: AsyncSession, person_id: int) -> dict[str, Any] | None:
    """Every row about the person, by table name; None if there is no such person."""
    people = Base.metadata.tables[Person.__tablename__]
    person = (await session.execute(select(people).where(people.c.id == person_id))).first()
    if person is None:
        return None
    data: dict[str, Any] = {"person": _row(people, person)}
    for table in sorted(personal_tables(), key=lambda t: t.name):
        order = [table.c[name] for name in ("created_at", "id") if name in table.c]
        rows = await session.execute(select(table).where(table.c.person_id == person_id).order_by(*order))
        data[table.name] = [_row(table, row) for row in rows]
    return data


def export_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


async def forget_person(session: AsyncSession, person_id: int) -> None:
    """Delete every row about the person, then the person. Flushes pending ORM changes first and
    forgets the ORM objects after, so nothing deleted is written back at commit."""
    await session.flush()
    for table in personal_tables():
        await session.execute(delete(table).where(table.c.person_id == person_id))
    people = Base.metadata.tables[Person.__tablename__]
    await session.execute(delete(people).where(people.c.id == person_id))
    session.expunge_all()
