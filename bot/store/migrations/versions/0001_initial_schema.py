"""Initial schema: org tree, staff, customers, balances, holdings, follow-ups, audit.

The audit log is append-only: triggers refuse UPDATE and DELETE on both databases.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 16:45:30.120956
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('staff_id', sa.String(length=16), nullable=True),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('user_ref', sa.String(length=64), nullable=False),
    sa.Column('channel_kind', sa.String(length=8), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_staff_id'), ['staff_id'], unique=False)

    op.create_table('data_load',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('data_date', sa.Date(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('org',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.String(length=16), nullable=True),
    sa.Column('path', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('org', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_path'), ['path'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('org_id', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_org_id'), ['org_id'], unique=False)

    op.create_table('chat_identity',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('platform', 'external_id')
    )
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_identity_staff_id'), ['staff_id'], unique=False)

    op.create_table('customer',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('id_no', sa.String(length=32), nullable=True),
    sa.Column('rm_id', sa.String(length=16), nullable=False),
    sa.Column('org_id', sa.String(length=16), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('tier_since', sa.Date(), nullable=True),
    sa.Column('industry', sa.String(length=32), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('revenue_fen', sa.BigInteger(), nullable=True),
    sa.Column('assets_fen', sa.BigInteger(), nullable=True),
    sa.Column('strategic', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], ),
    sa.ForeignKeyConstraint(['rm_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer_org_rm', ['org_id', 'rm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_rm_id'), ['rm_id'], unique=False)

    op.create_table('aum_monthly',
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('avg_daily_fen', sa.BigInteger(), nullable=False),
    sa.Column('month_end_fen', sa.BigInteger(), nullable=False),
    sa.Column('txn_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('customer_id', 'month')
    )
    op.create_table('balance',
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('aum_fen', sa.BigInteger(), nullable=False),
    sa.Column('deposit_fen', sa.BigInteger(), nullable=False),
    sa.Column('outflow_other_bank_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('customer_id', 'as_of')
    )
    with op.batch_alter_table('balance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_balance_as_of'), ['as_of'], unique=False)

    op.create_table('contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('staff_id', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=96), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_customer_at', ['customer_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_staff_id'), ['staff_id'], unique=False)

    op.create_table('corporate_monthly',
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('avg_deposit_fen', sa.BigInteger(), nullable=False),
    sa.Column('point_deposit_fen', sa.BigInteger(), nullable=False),
    sa.Column('pos_settlement_fen', sa.BigInteger(), nullable=False),
    sa.Column('payroll_headcount', sa.Integer(), nullable=False),
    sa.Column('payroll_fen', sa.BigInteger(), nullable=False),
    sa.Column('credit_cards', sa.Integer(), nullable=False),
    sa.Column('loan_balance_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('customer_id', 'month')
    )
    op.create_table('holding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('product_name', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('maturity_date', sa.Date(), nullable=True),
    sa.Column('term_months', sa.Integer(), nullable=True),
    sa.Column('risk_level', sa.String(length=4), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('holding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holding_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_holding_maturity', ['maturity_date'], unique=False)



    _audit_append_only()

def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")

    with op.batch_alter_table('holding', schema=None) as batch_op:
        batch_op.drop_index('ix_holding_maturity')
        batch_op.drop_index(batch_op.f('ix_holding_customer_id'))

    op.drop_table('holding')
    op.drop_table('corporate_monthly')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_staff_id'))
        batch_op.drop_index('ix_contact_customer_at')

    op.drop_table('contact')
    with op.batch_alter_table('balance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_balance_as_of'))

    op.drop_table('balance')
    op.drop_table('aum_monthly')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_rm_id'))
        batch_op.drop_index('ix_customer_org_rm')

    op.drop_table('customer')
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_identity_staff_id'))

    op.drop_table('chat_identity')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_org_id'))

    op.drop_table('staff')
    with op.batch_alter_table('org', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_path'))
        batch_op.drop_index(batch_op.f('ix_org_parent_id'))

    op.drop_table('org')
    op.drop_table('data_load')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_staff_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')



def _audit_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
