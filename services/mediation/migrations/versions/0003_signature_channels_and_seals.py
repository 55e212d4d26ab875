"""signature channels (login / one-time code / in person before a witness) and Ed25519 seals

signatures: channel, witness_name, witness_role, photo, photo_sha256 (in person).
sessions: seal_key_id, seal_signature (the record-seal statement signed by the service's key).
agreements: seal_statement, seal_key_id, seal_signature (the agreement statement, embedded in the PDF).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("signatures", sa.Column("channel", sa.Text()))  # null: signed before channels were recorded
    op.add_column("signatures", sa.Column("witness_name", sa.Text()))
    op.add_column("signatures", sa.Column("witness_role", sa.Text()))
    op.add_column("signatures", sa.Column("photo", sa.LargeBinary()))
    op.add_column("signatures", sa.Column("photo_sha256", sa.Text()))
    op.create_check_constraint(
        "signatures_in_person_witnessed", "signatures",
        "channel IS DISTINCT FROM 'in_person' OR (witness_name IS NOT NULL AND witness_role IS NOT NULL "
        "AND photo_sha256 IS NOT NULL)")
    op.add_column("sessions", sa.Column("seal_key_id", sa.Text()))
    op.add_column("sessions", sa.Column("seal_signature", sa.Text()))
    op.add_column("agreements", sa.Column("seal_statement", JSONB()))
    op.add_column("agreements", sa.Column("seal_key_id", sa.Text()))
    op.add_column("agreements", sa.Column("seal_signature", sa.Text()))


def downgrade() -> None:
    for col in ("seal_signature", "seal_key_id", "seal_statement"):
        op.drop_column("agreements", col)
    for col in ("seal_signature", "seal_key_id"):
        op.drop_column("sessions", col)
    op.drop_constraint("signatures_in_person_witnessed", "signatures", type_="check")
    for col in ("photo_sha256", "photo", "witness_role", "witness_name", "channel"):
        op.drop_column("signatures", col)
