"""resident notifications and follow-up: cases.query_code_hash, sms_outbox, sms_opt_outs, follow_ups

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("query_code_hash", sa.Text(), nullable=True))
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("send_key", sa.Text(), nullable=False, unique=True),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("phone", sa.Text()),
        sa.Column("requester_ref", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("provider_id", sa.Text()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_sms_outbox_due", "sms_outbox", ["not_before"], postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "sms_opt_outs",
        sa.Column("requester_ref", sa.Text(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("case_id", sa.Text(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("rating", sa.Text()),
        sa.Column("solved", sa.Boolean()),
        sa.Column("channel", sa.Text()),
        sa.Column("comment", sa.Text()),
        sa.Column("by", postgresql.JSONB()),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("to_leader", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.UniqueConstraint("case_id", "cycle", name="uq_follow_ups_cycle"),
    )
    op.create_index("ix_follow_ups_open", "follow_ups", ["due_at"], postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index("ix_follow_ups_open", table_name="follow_ups")
    op.drop_table("follow_ups")
    op.drop_table("sms_opt_outs")
    op.drop_index("ix_sms_outbox_due", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_column("cases", "query_code_hash")
