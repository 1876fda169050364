"""data_day: how complete each new balance date's load is (issue 15 item 8).

A date whose balances cover too few of the previous date's customers is kept as `partial` and
never becomes the current data date; a top-up import or `--allow-partial` settles it.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import ShanghaiDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("covered", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Date(), nullable=True),
        sa.Column("decided_at", ShanghaiDateTime(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("data_day")
