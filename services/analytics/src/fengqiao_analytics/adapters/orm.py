"""ORM tables of the analytics service (its own database).

Everything except ``a_emitted`` (and the event tables) is a read model: it can be truncated and rebuilt by
replaying the topics (see ``usecases/rebuild.py``)."""

from fengqiao_events import add_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)

meta = Table(
    "a_meta", metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("rebuilt_at", DateTime(timezone=True)),
)

# Aggregate counters maintained incrementally: (dimension, key) -> value. Every request reads a handful of
# rows instead of counting cases.
counters = Table(
    "a_counters", metadata,
    Column("dim", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("dim", "key"),
)

cases = Table(
    "a_cases", metadata,
    Column("case_id", Text, primary_key=True),
    Column("case_no", Text),
    Column("reported", Boolean, nullable=False, server_default="false"),
    Column("channel", Text),
    Column("category", Text),
    Column("grade", Text),
    Column("grade_at", DateTime(timezone=True)),
    Column("grid", Text),
    Column("community", Text),
    Column("reported_at", DateTime(timezone=True)),
    Column("people_involved", Integer, nullable=False, server_default="0"),
    Column("requester_ref", Text),
    Column("wage_arrears", Boolean, nullable=False, server_default="false"),
    Column("summary", Text),
    Column("queued", Boolean, nullable=False, server_default="false"),
    Column("departments", JSONB, nullable=False, server_default="[]"),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("reopened_at", DateTime(timezone=True)),
    Column("reopen_count", Integer, nullable=False, server_default="0"),
    Column("return_count", Integer, nullable=False, server_default="0"),
    Column("escalation_count", Integer, nullable=False, server_default="0"),
    Column("overdue_orders", Integer, nullable=False, server_default="0"),
    Column("merged_into", Text),
    Column("rating", Text),
    Column("rated_at", DateTime(timezone=True)),
    Column("solved", Boolean),  # the requester's answer on the latest case.rated, when it carries one
    Column("status", Text, nullable=False, server_default="reported"),
    Index("ix_a_cases_grid_cat_at", "grid", "category", "reported_at"),
    Index("ix_a_cases_comm_at", "community", "reported_at"),
    Index("ix_a_cases_requester_at", "requester_ref", "reported_at"),
    Index("ix_a_cases_reported_at", "reported_at"),
)

orders = Table(
    "a_orders", metadata,
    Column("order_id", Text, primary_key=True),
    Column("case_id", Text, nullable=False),
    Column("case_no", Text),
    Column("department", Text, nullable=False),
    Column("level", Text),
    Column("role", Text),
    Column("category", Text),
    Column("grade", Text),
    Column("grid", Text),
    Column("community", Text),
    Column("dispatched", Boolean, nullable=False, server_default="false"),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("on_site_required", Boolean, nullable=False, server_default="true"),
    Column("resolve_by", DateTime(timezone=True)),
    Column("sign_for_by", DateTime(timezone=True)),
    Column("signed_at", DateTime(timezone=True)),
    Column("sign_within", Boolean),
    Column("checked_in_at", DateTime(timezone=True)),
    Column("checkin_within", Boolean),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolve_within", Boolean),
    Column("resolve_seq", Integer),
    Column("returned_at", DateTime(timezone=True)),
    Column("verified_at", DateTime(timezone=True)),
    Column("verified_accepted", Boolean),
    Column("verify_seq", Integer),
    Column("missed_stages", JSONB, nullable=False, server_default="[]"),
    Column("reminders", Integer, nullable=False, server_default="0"),
    Column("escalations", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="dispatched"),
    Index("ix_a_orders_case", "case_id"),
    Index("ix_a_orders_dept", "department"),
)

# The three rates by period and department (domain/rates.py): (period, department, measure) -> count, kept
# incrementally from the events like the counters.
rates = Table(
    "a_rates", metadata,
    Column("period", Text, nullable=False),
    Column("department", Text, nullable=False),
    Column("measure", Text, nullable=False),
    Column("value", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("period", "department", "measure"),
)

signals = Table(
    "a_signals", metadata,
    Column("signal_id", Text, primary_key=True),
    Column("source", Text, nullable=False),  # rule | report | pending (triage seen before the signal)
    Column("rule", Text),
    Column("subject", Text),
    Column("grid", Text),
    Column("community", Text),
    Column("category", Text),
    Column("reasons", JSONB, nullable=False, server_default="[]"),
    Column("case_ids", JSONB, nullable=False, server_default="[]"),
    Column("summary", Text),
    Column("people_involved", Integer, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="false"),
    Column("status", Text, nullable=False, server_default="new"),
    Column("assignee", Text),
    Column("first_at", DateTime(timezone=True)),
    Column("became_case_id", Text),
    Column("became_case_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_a_signals_grid_cat", "grid", "category", "first_at"),
    Index("ix_a_signals_status", "status"),
)

signal_history = Table(
    "a_signal_history", metadata,
    Column("event_id", Text, primary_key=True),
    Column("signal_id", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("assignee", Text),
    Column("note", Text),
    Column("by_id", Text),
    Column("by_role", Text),
    Index("ix_a_signal_history_signal", "signal_id", "at"),
)

# Signals whose weak-signal.flagged event was already emitted: survives rebuilds, so a replay never
# announces the same signal twice.
emitted = Table(
    "a_emitted", metadata,
    Column("signal_id", Text, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The live ticker (no personal data); an insert trigger NOTIFYs fq_analytics for the SSE streams.
ticker = Table(
    "a_ticker", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("topic", Text, nullable=False),
    Column("case_no", Text),
    Column("grid", Text),
    Column("category", Text),
    Column("grade", Text),
    Column("department", Text),
)

READ_MODEL_TABLES = ("a_counters", "a_rates", "a_cases", "a_orders", "a_signals", "a_signal_history", "a_ticker")
NOTIFY_CHANNEL = "fq_analytics"
