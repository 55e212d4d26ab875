"""outbox and processed_events

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from fengqiao_events import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables(__import__("alembic").op)


def downgrade() -> None:
    drop_event_tables(__import__("alembic").op)
