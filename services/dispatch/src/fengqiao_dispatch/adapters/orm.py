"""ORM tables of the dispatch service (its own database)."""

from fengqiao_events import add_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)


def _ts(name: str, nullable: bool = True, **kw) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable, **kw)


# A case as dispatch knows it (copied from grid.event.reported; intake owns the case itself).
cases = Table(
    "cases",
    metadata,
    Column("case_id", Text, primary_key=True),
    Column("case_no", Text),
    Column("category", Text, nullable=False),
    Column("grade", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("grid", Text),
    Column("community", Text),
    Column("location", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("people_involved", Integer, nullable=False, server_default=text("0")),
    Column("keywords", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # routed | queued | resolved | closed | mediation | merged
    Column("status", Text, nullable=False),
    Column("queue_reason", Text),
    _ts("clock_started_at", False),
    _ts("reported_at"),
    _ts("resolved_at"),
    _ts("closed_at"),
    _ts("created_at", False, server_default=func.now()),
    _ts("updated_at", False, server_default=func.now()),
    Index("ix_cases_status", "status"),
)

# Versioned routing rules: every save is a new row; exactly one current row per rule id.
routing_rules = Table(
    "routing_rules",
    metadata,
    Column("rule_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", Text),
    _ts("created_at", False, server_default=func.now()),
    PrimaryKeyConstraint("rule_id", "version"),
    Index("ux_routing_rules_current", "rule_id", unique=True, postgresql_where=text("is_current")),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("case_id", Text, ForeignKey("cases.case_id"), nullable=False),
    Column("department", Text, nullable=False),
    Column("department_name", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("role", Text, nullable=False),  # lead | assist
    Column("status", Text, nullable=False),
    Column("seq", Integer, nullable=False, server_default=text("1")),
    Column("rule_id", Text),
    Column("rule_version", Integer),
    Column("dispatched_by", JSONB),
    Column("on_site_required", Boolean, nullable=False, server_default=text("true")),
    _ts("clock_started_at", False),
    _ts("sign_for_by"),
    _ts("on_site_by"),
    _ts("resolve_by"),
    Column("signed_by", Text),
    _ts("signed_at"),
    Column("checked_in_by", Text),
    _ts("checked_in_at"),
    Column("check_in_location", JSONB),
    _ts("resolved_at"),
    Column("result", Text),
    Column("evidence", JSONB),
    _ts("verified_at"),
    Column("return_reason", Text),
    _ts("returned_at"),
    Column("reroute_of", Text),
    _ts("created_at", False),
    _ts("updated_at", False, server_default=func.now()),
    Index("ix_orders_case", "case_id"),
    Index("ix_orders_department_status", "department", "status"),
)

# Every step of a case, with actor and time (the case timeline as dispatch sees it).
timeline = Table(
    "timeline",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, nullable=False),
    Column("order_id", Text),
    Column("kind", Text, nullable=False),
    Column("actor", JSONB),
    _ts("at", False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("ix_timeline_case", "case_id", "id"),
)

# Persisted timers, fired by any replica with FOR UPDATE SKIP LOCKED.
timers = Table(
    "timers",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", Text, ForeignKey("orders.order_id"), nullable=False),
    Column("case_id", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("kind", Text, nullable=False),
    _ts("due_at", False),
    _ts("fired_at"),
    _ts("cancelled_at"),
    Column("fired_by", Text),
    UniqueConstraint("order_id", "stage", "kind", name="uq_timers_order_stage_kind"),
    Index("ix_timers_pending", "due_at", postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL")),
)
