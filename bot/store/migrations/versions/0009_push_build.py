"""One row per (push kind, day) built: catch-up after a restart, and one build across replicas.

A scheduler starting after a push time builds the day if no row says it was built; `rmbot push
status` lists working days that were due and have no row.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import ShanghaiDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_build",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("push_date", sa.Date(), nullable=False),
        sa.Column("built_at", ShanghaiDateTime(), nullable=False),
        sa.Column("built_by", sa.String(length=120), nullable=False),
        sa.Column("enqueued", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("kind", "push_date"),
    )


def downgrade() -> None:
    op.drop_table("push_build")
