"""audit_log: reads of personal data (fields, purpose, subjects) and a unique row id (durable spool)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("fields", sa.String(512)))
    op.add_column("audit_log", sa.Column("purpose", sa.String(64)))
    op.add_column("audit_log", sa.Column("subjects", ARRAY(sa.String(128))))
    op.add_column("audit_log", sa.Column("uid", UUID(as_uuid=False)))
    op.create_unique_constraint("audit_log_uid_key", "audit_log", ["uid"])
    op.create_index("ix_audit_subjects", "audit_log", ["subjects"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_audit_subjects", table_name="audit_log")
    op.drop_constraint("audit_log_uid_key", "audit_log")
    for c in ("uid", "subjects", "purpose", "fields"):
        op.drop_column("audit_log", c)
