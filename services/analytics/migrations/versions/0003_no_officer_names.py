"""a_orders keeps no officer names (issue #15: no names, phones or ID numbers in analytics at all)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("a_orders", "officer")


def downgrade() -> None:
    op.add_column("a_orders", sa.Column("officer", sa.Text()))
