"""sessions.previous_refresh_hash: tell a concurrent refresh (benign) from a replayed refresh token

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("previous_refresh_hash", sa.String(64)))


def downgrade() -> None:
    op.drop_column("sessions", "previous_refresh_hash")
