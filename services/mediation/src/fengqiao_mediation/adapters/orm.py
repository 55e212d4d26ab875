"""Tables of the mediation service (its own database). SQLAlchemy Core tables; the schema itself is made by
the Alembic migrations in ``migrations/versions`` (never ``create_all`` at runtime)."""

from fengqiao_events import add_event_tables
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    column,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)


def _ts(name: str, **kw) -> Column:
    return Column(name, DateTime(timezone=True), **kw)


mediators = Table(
    "mediators", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("gender", Text, nullable=False),
    Column("categories", ARRAY(Text), nullable=False),
    Column("dialects", ARRAY(Text), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("outreach", Boolean, nullable=False, server_default="true"),
    Column("weekly", JSONB, nullable=False),  # [{"weekday": 0-6, "start": "09:00", "end": "12:00"}]
    Column("relations", JSONB, nullable=False),  # [{"name": ..., "relation": ...}]
    Column("active", Boolean, nullable=False, server_default="true"),
    _ts("created_at", nullable=False, server_default=func.now()),
    _ts("updated_at", nullable=False, server_default=func.now()),
)

leaves = Table(
    "mediator_leaves", metadata,
    Column("id", Text, primary_key=True),
    Column("mediator_id", Text, ForeignKey("mediators.id"), nullable=False, index=True),
    _ts("starts_at", nullable=False),
    _ts("ends_at", nullable=False),
    Column("reason", Text),
)

mediations = Table(
    "mediations", metadata,
    Column("id", Text, primary_key=True),
    Column("case_id", Text, index=True),
    Column("case_no", Text),
    Column("referral_id", Text, unique=True),
    Column("source", Text, nullable=False),  # referral | walk_in | external_system
    Column("external_system", Text),
    Column("category", Text, nullable=False),
    Column("summary", Text),
    Column("status", Text, nullable=False),
    Column("mediator_id", Text, ForeignKey("mediators.id")),
    Column("handed_to", Text),
    Column("outcome", Text),
    _ts("created_at", nullable=False, server_default=func.now()),
    _ts("updated_at", nullable=False, server_default=func.now()),
    Index("ix_mediations_mediator_status", "mediator_id", "status"),
)

parties = Table(
    "parties", metadata,
    Column("id", Text, primary_key=True),  # = the party_id claim of a party's identity
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False, index=True),
    Column("side", Text, nullable=False),  # applicant | respondent
    Column("name", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("organisation", Text),
    Column("position", Integer, nullable=False),
)

bookings = Table(
    "bookings", metadata,
    Column("id", Text, primary_key=True),
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False, index=True),
    Column("mediator_id", Text, ForeignKey("mediators.id"), nullable=False),
    _ts("starts_at", nullable=False),
    _ts("ends_at", nullable=False),
    Column("mode", Text, nullable=False),  # centre | home (上门)
    Column("address", Text),
    Column("status", Text, nullable=False),  # active | cancelled | rescheduled
    Column("replaces", Text),
    Column("cancel_reason", Text),
    _ts("created_at", nullable=False, server_default=func.now()),
    CheckConstraint("ends_at > starts_at", name="bookings_end_after_start"),
    Index("ix_bookings_mediator_active", "mediator_id", "starts_at", postgresql_where=text("status = 'active'")),
    # A mediator's active bookings never overlap (btree_gist): the database refuses a double booking.
    ExcludeConstraint(
        ("mediator_id", "="), (func.tstzrange(column("starts_at"), column("ends_at")), "&&"),
        name="bookings_no_overlap", using="gist", where=text("status = 'active'"),
    ),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Text, primary_key=True),
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("booking_id", Text, ForeignKey("bookings.id")),
    _ts("started_at", nullable=False),
    _ts("ended_at", nullable=False),
    Column("place", Text, nullable=False),
    Column("attendees", JSONB, nullable=False),
    Column("points_agreed", JSONB, nullable=False),
    Column("points_outstanding", JSONB, nullable=False),
    Column("notes", Text),
    Column("status", Text, nullable=False),  # open | sealed
    Column("chain_index", Integer),
    Column("prev_hash", Text),
    Column("record_hash", Text),
    _ts("sealed_at"),
    Column("seal_key_id", Text),  # the Ed25519 key (not in this database) that signed the record-seal statement
    Column("seal_signature", Text),
    _ts("created_at", nullable=False, server_default=func.now()),
    UniqueConstraint("mediation_id", "seq"),
    UniqueConstraint("mediation_id", "chain_index"),
)

signatures = Table(
    "signatures", metadata,
    Column("id", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id"), nullable=False, index=True),
    Column("signer", Text, nullable=False),  # "mediator:<id>" | "party:<id>"
    Column("signer_role", Text, nullable=False),  # mediator | party
    Column("signer_name", Text, nullable=False),
    Column("method", Text, nullable=False),  # image | otp | in_person
    Column("channel", Text),  # login | otp | in_person (null: signed before channels were recorded)
    Column("image_sha256", Text),
    Column("image", LargeBinary),
    Column("witness_name", Text),  # in person: signed before the mediator and this witness
    Column("witness_role", Text),
    Column("photo", LargeBinary),
    Column("photo_sha256", Text),
    Column("content_hash", Text, nullable=False),  # hash of the record content that was signed
    Column("submitted_by", Text, nullable=False),
    _ts("signed_at", nullable=False),
    UniqueConstraint("session_id", "signer"),
    CheckConstraint("channel IS DISTINCT FROM 'in_person' OR (witness_name IS NOT NULL AND witness_role IS NOT NULL "
                    "AND photo_sha256 IS NOT NULL)", name="signatures_in_person_witnessed"),
)

otp_codes = Table(
    "otp_codes", metadata,
    Column("id", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id"), nullable=False),
    Column("party_id", Text, ForeignKey("parties.id"), nullable=False),
    Column("code_hash", Text, nullable=False),
    _ts("expires_at", nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("used_at"),
    _ts("created_at", nullable=False, server_default=func.now()),
)

agreements = Table(
    "agreements", metadata,
    Column("id", Text, primary_key=True),
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False, unique=True),
    Column("points", JSONB, nullable=False),
    Column("chain_head", Text, nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("seal_statement", JSONB),  # the signed agreement statement (also embedded in the PDF)
    Column("seal_key_id", Text),
    Column("seal_signature", Text),
    _ts("generated_at", nullable=False),
    _ts("apply_by", nullable=False),
)

court_applications = Table(
    "court_applications", metadata,
    Column("id", Text, primary_key=True),
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False, index=True),
    Column("agreement_id", Text, ForeignKey("agreements.id"), nullable=False),
    Column("court", Text, nullable=False),
    Column("external_ref", Text),
    Column("status", Text, nullable=False),  # submitted | material_requested | confirmed | rejected
    Column("ruling_no", Text),
    Column("reason", Text),
    Column("material_request", Text),
    Column("history", JSONB, nullable=False),
    _ts("applied_at", nullable=False),
    _ts("decided_at"),
)

reminders = Table(
    "deadline_reminders", metadata,
    Column("id", Text, primary_key=True),
    Column("mediation_id", Text, ForeignKey("mediations.id"), nullable=False),
    Column("kind", Text, nullable=False),  # judicial_apply_<n>d
    _ts("due_at", nullable=False),
    _ts("sent_at", nullable=False, server_default=func.now()),
    UniqueConstraint("mediation_id", "kind"),
)
