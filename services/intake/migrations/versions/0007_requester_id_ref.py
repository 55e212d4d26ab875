"""one requester across channels: case_requesters.id_ref (the ID number's pseudonym) and lookup indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Rows from before keep ``id_ref`` empty (the key is not known to the migration): they link through
``requester_ref`` only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("case_requesters", sa.Column("id_ref", sa.Text(), nullable=True))
    op.create_index("ix_case_requesters_ref", "case_requesters", ["requester_ref"])
    op.create_index("ix_case_requesters_id_ref", "case_requesters", ["id_ref"])


def downgrade() -> None:
    op.drop_index("ix_case_requesters_id_ref", table_name="case_requesters")
    op.drop_index("ix_case_requesters_ref", table_name="case_requesters")
    op.drop_column("case_requesters", "id_ref")
