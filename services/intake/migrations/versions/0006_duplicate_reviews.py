"""duplicate review: duplicate_reviews (the dispatcher's confirm / reject of a proposed duplicate)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_reviews",
        sa.Column("case_id", sa.Text(), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("candidate_id", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("by", postgresql.JSONB(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("duplicate_reviews")
