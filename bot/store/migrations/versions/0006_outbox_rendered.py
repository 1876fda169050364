"""Delivery at 2,000 channels: outbox rows carry their rendered message; unsent rows indexed apart.

`rendered`: a push's platform message(s), rendered when the push is built. Rendering for Slack
(validating the stored Reply, Block Kit templates, RM mentions) costs ~2 ms of CPU a message; at
delivery that sits on the paced path of 2,000 channels, at build time it is done once, off it.
NULL means "render at send" (rows built before this revision, replies with charts, platforms
without a renderer).

`ix_outbox_unsent`: a partial index on the rows still to deliver, per channel in id order. A
claim looks for each channel's oldest unsent row; with the full channel index it walked every
row the channel ever had (a year of pushes), with this one only what is left to send.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNSENT = sa.text("status IN ('pending', 'claimed', 'sending', 'verifying')")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("rendered", sa.Text(), nullable=True))
    op.create_index("ix_outbox_unsent", "outbox", ["platform", "target", "id"], unique=False,
                    sqlite_where=UNSENT, postgresql_where=UNSENT)


def downgrade() -> None:
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:  # SQLite drops a column by rebuilding the table
        batch.drop_column("rendered")
