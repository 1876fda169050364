"""`ix_contact_ref` covers only contacts that answer a push item (ref set).

Most contacts are plain visit notes with no ref. SQLite's ANALYZE counts NULL as one value, so
with a bank full of ref-less contacts the planner believed `contact.ref = ?` matched every row
and scanned the whole contact table once per maturing holding: the 到期承接 list of a
1,000,000-customer bank never finished. A partial index holds only the rows the "already
handled" check can match (any `ref = …` implies `ref IS NOT NULL`, so both databases use it),
and its statistics describe just those.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

HAS_REF = sa.text("ref IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_contact_ref", table_name="contact")
    op.create_index("ix_contact_ref", "contact", ["ref"], unique=False,
                    sqlite_where=HAS_REF, postgresql_where=HAS_REF)


def downgrade() -> None:
    op.drop_index("ix_contact_ref", table_name="contact")
    op.create_index("ix_contact_ref", "contact", ["ref"], unique=False)
