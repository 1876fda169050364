"""Outbox index by channel: delivery claims each channel's oldest unsent row.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_channel", "outbox", ["platform", "target", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_channel", table_name="outbox")
