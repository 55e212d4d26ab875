"""ORM tables of the intake service (its own database)."""

from fengqiao_events import add_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)


def _ts(name: str, nullable: bool = True, default: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable,
                  server_default=func.now() if default else None)


# Per street and day: the last case number handed out (row lock serialises allocation).
case_counters = Table(
    "case_counters",
    metadata,
    Column("prefix", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last", Integer, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Text, primary_key=True),
    Column("case_no", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False),
    Column("sub_channel", Text),
    Column("source_system", Text),
    Column("external_ref", Text),
    Column("category", Text, nullable=False),
    Column("grade", Text, nullable=False),
    Column("grade_reasons", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("keywords", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("district", Text, nullable=False),
    Column("street", Text, nullable=False),
    Column("community", Text),
    Column("grid", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("address", Text),
    Column("summary", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("people_involved", Integer, nullable=False, server_default=text("0")),
    Column("media_url", Text),
    Column("parties", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _ts("occurred_at"),
    _ts("reported_at", nullable=False, default=True),
    Column("reporter", JSONB),
    Column("status", Text, nullable=False),
    _ts("status_at", nullable=False, default=True),
    Column("duplicate_of", Text),
    Column("merged_into", Text),
    Column("last_rating", Text),
    _ts("last_rating_at"),
    # the resident's query code (issued at acceptance, shown once by SMS): SHA-256, never the code
    Column("query_code_hash", Text),
    # idempotency: the same caller + key creates one case (a unique constraint decides)
    Column("idem_caller", Text),
    Column("idem_key", Text),
    Column("idem_hash", Text),
    _ts("updated_at", nullable=False, default=True),
    UniqueConstraint("idem_caller", "idem_key", name="uq_cases_idempotency"),
    Index("ix_cases_reported_at", "reported_at"),
    Index("ix_cases_open_category", "category", "reported_at",
          postgresql_where=text("status NOT IN ('closed', 'merged')")),
    Index("ix_cases_grid", "grid"),
)

# Every requester of a case (a merged case keeps all of them): who to notify and who may read it.
case_requesters = Table(
    "case_requesters",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("source_system", Text),
    Column("channel", Text, nullable=False),
    Column("requester_ref", Text),
    # hmac-sha256 (keyed pseudonym) | pending (from before the HMAC, to recompute) | legacy-sha256 (no raw
    # data left to recompute: kept for intake's own grouping, never sent on)
    Column("requester_ref_scheme", Text, nullable=False, server_default=text("'hmac-sha256'")),
    Column("origin_case_id", Text, nullable=False),
    _ts("added_at", nullable=False, default=True),
    # the pseudonym of the ID number alone (when the requester gave one): links cases across channels
    Column("id_ref", Text),
    UniqueConstraint("case_id", "origin_case_id", name="uq_case_requesters_origin"),
    Index("ix_case_requesters_ref", "requester_ref"),
    Index("ix_case_requesters_id_ref", "id_ref"),
    Index("ix_case_requesters_system", "source_system", "case_id"),
    Index("ix_case_requesters_pending", "id", postgresql_where=text("requester_ref_scheme = 'pending'")),
)

# Departments that hold or held an order on a case (from the order events): who of them may read it.
case_departments = Table(
    "case_departments",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("department", Text, primary_key=True),
    _ts("first_order_at", nullable=False),
    Index("ix_case_departments_department", "department", "case_id"),
)

# Mediators of mediations booked for a case (mediation.booked / mediation.rescheduled carry mediator_id).
case_mediators = Table(
    "case_mediators",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("mediator_id", Text, primary_key=True),
    _ts("first_booked_at", nullable=False),
    Index("ix_case_mediators_mediator", "mediator_id", "case_id"),
)

# Every view of personal data in full (and every attachment read by someone else than its uploader),
# written in the transaction that prepared the answer. Read by admin and the data-protection officer.
pii_access_log = Table(
    "pii_access_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _ts("at", nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor_name", Text),
    Column("role", Text),
    Column("department", Text),
    Column("action", Text, nullable=False),  # detail | list | export | attachment
    Column("object_type", Text, nullable=False),  # case | attachment
    Column("object_id", Text, nullable=False),
    Column("case_id", Text),  # no foreign key: the log outlives what it logs
    Column("case_no", Text),
    Column("fields", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("purpose", Text),
    Column("request_id", Text),
    Column("client_address", Text),
    Index("ix_pii_access_log_at", "at"),
    Index("ix_pii_access_log_actor", "actor_id", "at"),
    Index("ix_pii_access_log_case", "case_id", "at"),
)

timeline = Table(
    "case_timeline",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    _ts("at", nullable=False),
    Column("kind", Text, nullable=False),
    Column("status_effect", Text),
    Column("actor", JSONB),
    Column("department", Text),
    Column("note", Text),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("event_id", Text),
    _ts("recorded_at", nullable=False, default=True),
    Index("ix_case_timeline_case", "case_id", "at", "id"),
    UniqueConstraint("case_id", "event_id", name="uq_case_timeline_event"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("case_id", Text, ForeignKey("cases.id", ondelete="SET NULL")),
    Column("uploaded_by", Text, nullable=False),
    Column("filename", Text),
    Column("content_type", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("storage", Text, nullable=False),
    Column("storage_key", Text, nullable=False),
    _ts("created_at", nullable=False, default=True),
    Index("ix_attachments_case", "case_id"),
)

ratings = Table(
    "case_ratings",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("rating", Text, nullable=False),
    Column("comment", Text),
    Column("by", JSONB, nullable=False),
    _ts("at", nullable=False, default=True),
)

weak_signals = Table(
    "weak_signals",
    metadata,
    Column("id", Text, primary_key=True),
    Column("grid", Text),
    Column("community", Text),
    Column("category", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("people_involved", Integer, nullable=False, server_default=text("0")),
    Column("reporter", JSONB),
    Column("reported_by", Text, nullable=False),
    _ts("reported_at", nullable=False, default=True),
    Column("idem_caller", Text),
    Column("idem_key", Text),
    Column("idem_hash", Text),
    UniqueConstraint("idem_caller", "idem_key", name="uq_weak_signals_idempotency"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("external_system", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_by", Text, nullable=False),
    _ts("created_at", nullable=False, default=True),
    Index("ix_webhooks_system", "external_system"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Text, primary_key=True),
    Column("webhook_id", Text, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),  # pending | succeeded | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _ts("next_attempt_at", nullable=False, default=True),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    _ts("created_at", nullable=False, default=True),
    _ts("delivered_at"),
    UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", Text, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    _ts("at", nullable=False, default=True),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)

# Idempotency-Key for creates that are not cases (webhooks, attachments): first result wins.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", Text, primary_key=True),
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    _ts("created_at", nullable=False, default=True),
)


# Text messages to residents, written in the transaction of the state change that causes them and sent by
# the SMS worker. ``send_key`` (unique) makes a re-delivered event or a second worker no second message;
# the phone is kept only until the message is sent (or given up), the parameters are the template's only.
sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", Text, primary_key=True),
    Column("send_key", Text, nullable=False, unique=True),
    Column("case_id", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("params", JSONB, nullable=False),
    Column("phone", Text),
    Column("requester_ref", Text),
    Column("status", Text, nullable=False),  # pending | sent | failed | opted_out
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _ts("not_before", nullable=False, default=True),
    _ts("created_at", nullable=False, default=True),
    _ts("sent_at"),
    Column("provider_id", Text),
    Column("last_error", Text),
    Index("ix_sms_outbox_due", "not_before", postgresql_where=text("status = 'pending'")),
)

# Residents who asked for no more messages (by requester pseudonym: no phone number kept for it).
sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    Column("requester_ref", Text, primary_key=True),
    _ts("at", nullable=False, default=True),
)

# Follow-up (回访) tasks: one per case and handling cycle, created when the centre verifies a result;
# done when the requester's answer is recorded (a call, an SMS reply, the public page); ``to_leader`` when
# the answer would reopen the case more often than allowed.
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", Text, primary_key=True),
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("cycle", Integer, nullable=False),
    _ts("created_at", nullable=False, default=True),
    _ts("due_at", nullable=False),
    Column("status", Text, nullable=False),  # open | done
    Column("rating", Text),
    Column("solved", Boolean),
    Column("channel", Text),
    Column("comment", Text),
    Column("by", JSONB),
    _ts("done_at"),
    Column("to_leader", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("case_id", "cycle", name="uq_follow_ups_cycle"),
    Index("ix_follow_ups_open", "due_at", postgresql_where=text("status = 'open'")),
)

# The dispatcher's decision on a proposed duplicate (cases.duplicate_of): confirmed (merged) or rejected.
duplicate_reviews = Table(
    "duplicate_reviews",
    metadata,
    Column("case_id", Text, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("candidate_id", Text, nullable=False),
    Column("decision", Text, nullable=False),  # confirmed | rejected
    Column("similarity", Float, nullable=False),
    Column("reason", Text),
    Column("by", JSONB, nullable=False),
    _ts("at", nullable=False, default=True),
)
