"""mediation tables: mediators, leaves, mediations, parties, bookings (no double booking), sessions,
signatures, one-time codes, agreements, court applications, deadline reminders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def ts(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def now(name: str) -> sa.Column:
    return ts(name, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "mediators",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("gender", sa.Text, nullable=False),
        sa.Column("categories", ARRAY(sa.Text), nullable=False),
        sa.Column("dialects", ARRAY(sa.Text), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("outreach", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("weekly", JSONB, nullable=False),
        sa.Column("relations", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        now("created_at"),
        now("updated_at"),
    )
    op.create_table(
        "mediator_leaves",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediator_id", sa.Text, sa.ForeignKey("mediators.id"), nullable=False, index=True),
        ts("starts_at", nullable=False),
        ts("ends_at", nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "mediations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, index=True),
        sa.Column("case_no", sa.Text),
        sa.Column("referral_id", sa.Text, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("external_system", sa.Text),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("mediator_id", sa.Text, sa.ForeignKey("mediators.id")),
        sa.Column("handed_to", sa.Text),
        sa.Column("outcome", sa.Text),
        now("created_at"),
        now("updated_at"),
    )
    op.create_index("ix_mediations_mediator_status", "mediations", ["mediator_id", "status"])
    op.create_table(
        "parties",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False, index=True),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("organisation", sa.Text),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False, index=True),
        sa.Column("mediator_id", sa.Text, sa.ForeignKey("mediators.id"), nullable=False),
        ts("starts_at", nullable=False),
        ts("ends_at", nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("replaces", sa.Text),
        sa.Column("cancel_reason", sa.Text),
        now("created_at"),
        sa.CheckConstraint("ends_at > starts_at", name="bookings_end_after_start"),
    )
    # A mediator's active bookings never overlap: enforced by the database, so concurrent requests for one
    # slot cannot both commit.
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
        "(mediator_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (status = 'active')"
    )
    op.execute("CREATE INDEX ix_bookings_mediator_active ON bookings (mediator_id, starts_at) WHERE status = 'active'")
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("booking_id", sa.Text, sa.ForeignKey("bookings.id")),
        ts("started_at", nullable=False),
        ts("ended_at", nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("attendees", JSONB, nullable=False),
        sa.Column("points_agreed", JSONB, nullable=False),
        sa.Column("points_outstanding", JSONB, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("chain_index", sa.Integer),
        sa.Column("prev_hash", sa.Text),
        sa.Column("record_hash", sa.Text),
        ts("sealed_at"),
        now("created_at"),
        sa.UniqueConstraint("mediation_id", "seq"),
        sa.UniqueConstraint("mediation_id", "chain_index"),
    )
    op.create_table(
        "signatures",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id"), nullable=False, index=True),
        sa.Column("signer", sa.Text, nullable=False),
        sa.Column("signer_role", sa.Text, nullable=False),
        sa.Column("signer_name", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("image_sha256", sa.Text),
        sa.Column("image", sa.LargeBinary),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        ts("signed_at", nullable=False),
        sa.UniqueConstraint("session_id", "signer"),
    )
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("party_id", sa.Text, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("code_hash", sa.Text, nullable=False),
        ts("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        ts("used_at"),
        now("created_at"),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False, unique=True),
        sa.Column("points", JSONB, nullable=False),
        sa.Column("chain_head", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        ts("generated_at", nullable=False),
        ts("apply_by", nullable=False),
    )
    op.create_table(
        "court_applications",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False, index=True),
        sa.Column("agreement_id", sa.Text, sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("court", sa.Text, nullable=False),
        sa.Column("external_ref", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ruling_no", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("material_request", sa.Text),
        sa.Column("history", JSONB, nullable=False),
        ts("applied_at", nullable=False),
        ts("decided_at"),
    )
    op.create_table(
        "deadline_reminders",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mediation_id", sa.Text, sa.ForeignKey("mediations.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        ts("due_at", nullable=False),
        now("sent_at"),
        sa.UniqueConstraint("mediation_id", "kind"),
    )


def downgrade() -> None:
    for t in ("deadline_reminders", "court_applications", "agreements", "otp_codes", "signatures", "sessions",
              "bookings", "parties", "mediations", "mediator_leaves", "mediators"):
        op.drop_table(t)
