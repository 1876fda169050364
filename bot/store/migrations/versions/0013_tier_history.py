"""tier_history: every change of the held tier made by the daily tier run (issue 15 item 7).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_history",
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=20), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("from_tier", sa.String(length=16), nullable=True),
        sa.Column("to_tier", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=12), nullable=False),
        sa.Column("basis_fen", sa.BigInteger(), nullable=False),
        sa.Column("point_fen", sa.BigInteger(), nullable=True),
        sa.Column("line_fen", sa.BigInteger(), nullable=False),
        sa.Column("months_below", sa.Integer(), nullable=False),
        sa.Column("months_required", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_date", "customer_id"),
    )
    op.create_index("ix_tier_history_customer_id", "tier_history", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_tier_history_customer_id", table_name="tier_history")
    op.drop_table("tier_history")
