"""scheduled_messages.claimed_by: which process holds a claim (PostgreSQL replicas)

Each process holds a session-level advisory lock on a key of its own for as long as it
lives (bot.storage.db.Database.hold_claimer_lock); a claim records that key. When the
key's lock is free, the process is gone, and the dispatcher takes its claims over at once
instead of waiting for their lease to run out.

Revision ID: 5d2c8e1f4b07
Revises: 9c3e5a7d1f20
Create Date: 2026-12-04 04:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2c8e1f4b07"
down_revision: str | Sequence[str] | None = "9c3e5a7d1f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
