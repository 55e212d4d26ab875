"""access by purpose: case_departments, case_mediators, pii_access_log; requester_ref_scheme

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- ``case_departments`` is filled from the order events already on the timelines (every order event
  names its department), so departments keep seeing the cases they worked on. ``case_mediators``
  cannot be filled from the past: the timeline never kept ``mediator_id``; a mediator sees an older
  case again from its next booking or rescheduling.
- ``requester_ref_scheme``: every existing ref is an unsalted SHA-256 and becomes ``pending``; the
  service's rekey task recomputes it as HMAC-SHA256 (key INTAKE_REQUESTER_KEY, which the migration
  never sees) from the origin case's requester, or marks it ``legacy-sha256`` when no phone or ID
  number is left to recompute it from. Downgrade drops the column and the tables (refs recomputed
  as HMAC stay HMAC: the old unsalted hashes are not restored).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_departments",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "department"),
    )
    op.create_index("ix_case_departments_department", "case_departments", ["department", "case_id"])
    op.create_table(
        "case_mediators",
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("mediator_id", sa.Text(), nullable=False),
        sa.Column("first_booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "mediator_id"),
    )
    op.create_index("ix_case_mediators_mediator", "case_mediators", ["mediator_id", "case_id"])
    op.create_table(
        "pii_access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("object_type", sa.Text(), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=True),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("client_address", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pii_access_log_at", "pii_access_log", ["at"])
    op.create_index("ix_pii_access_log_actor", "pii_access_log", ["actor_id", "at"])
    op.create_index("ix_pii_access_log_case", "pii_access_log", ["case_id", "at"])
    op.execute("""
        INSERT INTO case_departments (case_id, department, first_order_at)
        SELECT case_id, department, min(at) FROM case_timeline
        WHERE department IS NOT NULL AND (kind LIKE 'order.%' OR kind IN ('department.checked-in', 'deadline.missed'))
        GROUP BY case_id, department
    """)
    # existing rows: 'pending' (to recompute) where there is a ref; then the default for new rows
    op.add_column("case_requesters", sa.Column("requester_ref_scheme", sa.Text(), nullable=False,
                                               server_default=sa.text("'pending'")))
    op.execute("UPDATE case_requesters SET requester_ref_scheme = 'hmac-sha256' WHERE requester_ref IS NULL")
    op.alter_column("case_requesters", "requester_ref_scheme", server_default=sa.text("'hmac-sha256'"))
    op.create_index("ix_case_requesters_pending", "case_requesters", ["id"],
                    postgresql_where=sa.text("requester_ref_scheme = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_case_requesters_pending", table_name="case_requesters",
                  postgresql_where=sa.text("requester_ref_scheme = 'pending'"))
    op.drop_column("case_requesters", "requester_ref_scheme")
    op.drop_index("ix_pii_access_log_case", table_name="pii_access_log")
    op.drop_index("ix_pii_access_log_actor", table_name="pii_access_log")
    op.drop_index("ix_pii_access_log_at", table_name="pii_access_log")
    op.drop_table("pii_access_log")
    op.drop_index("ix_case_mediators_mediator", table_name="case_mediators")
    op.drop_table("case_mediators")
    op.drop_index("ix_case_departments_department", table_name="case_departments")
    op.drop_table("case_departments")
