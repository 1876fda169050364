"""Deliveries already processed, shared by every bot replica (event ids, WeCom MsgIds, signatures).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_key",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_seen_key_seen_at", "seen_key", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_seen_key_seen_at", table_name="seen_key")
    op.drop_table("seen_key")
