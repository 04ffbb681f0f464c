"""scheduled_messages.first_due_at: when a retried message was first due

A row that is retried (Telegram unreachable, 5xx, 429) gets a later due_at; its
first due time is kept here, so a hold prompt's lateness, the order of one
person's messages and how long retries go on are measured from when it was
meant to arrive.

Revision ID: 7b1d2e9c0a41
Revises: 4e5f4cbdca52
Create Date: 2026-12-01 04:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b1d2e9c0a41"
down_revision: str | Sequence[str] | None = "4e5f4cbdca52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_column("first_due_at")
