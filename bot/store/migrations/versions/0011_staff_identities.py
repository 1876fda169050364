"""Staff e-mail and the chat accounts the staff extract names (issue 16 item 4).

`email` is what `rmbot staff sync slack` looks Slack accounts up by; `slack_user_id` and
`wecom_userid` keep what the extract said (the links themselves stay in chat_identity).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("slack_user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("wecom_userid", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch would recreate `staff`, and
    # dropping the old table fails while customer, contact and chat_identity rows reference it.
    for column in ("wecom_userid", "slack_user_id", "email"):
        op.execute(f"ALTER TABLE staff DROP COLUMN {column}")
