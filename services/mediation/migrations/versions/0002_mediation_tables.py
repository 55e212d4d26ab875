"""mediation tables: mediators, leaves, mediations, parties, bookings (no double booking), sessions,
signatures, one-time codes, agreements, court applications, deadline reminders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

from fengqiao_mediation.adapters import orm

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [
    orm.mediators, orm.leaves, orm.mediations, orm.parties, orm.bookings, orm.sessions, orm.signatures,
    orm.otp_codes, orm.agreements, orm.court_applications, orm.reminders,
]


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for t in TABLES:
        t.create(bind)
    op.execute("ALTER TABLE bookings ADD CONSTRAINT bookings_end_after_start CHECK (ends_at > starts_at)")
    # A mediator's active bookings never overlap: enforced by the database, so concurrent requests for
    # one slot cannot both commit.
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
        "(mediator_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (status = 'active')"
    )
    op.execute("CREATE INDEX ix_bookings_mediator_active ON bookings (mediator_id, starts_at) WHERE status = 'active'")
    op.execute("CREATE INDEX ix_mediations_mediator_status ON mediations (mediator_id, status)")


def downgrade() -> None:
    bind = op.get_bind()
    for t in reversed(TABLES):
        t.drop(bind)
