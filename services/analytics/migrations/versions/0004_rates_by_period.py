"""the three rates by period and department (issue #17): a_rates, a_cases.solved, a_orders.sign_for_by

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

The new columns fill from events seen from now on; a rebuild (POST /api/v1/analytics/admin/rebuild)
recomputes them, and a_rates, for the whole event log.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "a_rates",
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("period", "department", "measure"),
    )
    op.add_column("a_cases", sa.Column("solved", sa.Boolean()))
    op.add_column("a_orders", sa.Column("sign_for_by", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("a_orders", "sign_for_by")
    op.drop_column("a_cases", "solved")
    op.drop_table("a_rates")
