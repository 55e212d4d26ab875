"""The two tables every service database has: ``outbox`` and ``processed_events``.

Services add them to their own SQLAlchemy ``MetaData`` with :func:`add_event_tables` and create
them in their first Alembic migration with :func:`create_event_tables`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    column,
    func,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

NOTIFY_CHANNEL = "fq_outbox"

# Lightweight constructs for the hot paths (no MetaData needed).
outbox_t = table(
    "outbox",
    column("id"),
    column("event_id"),
    column("topic"),
    column("key"),
    column("lane"),
    column("headers", JSONB),
    column("value", LargeBinary),
    column("created_at"),
    column("published_at"),
)
processed_t = table("processed_events", column("consumer"), column("event_id"), column("processed_at"))


def add_event_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("lane", SmallInteger, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_pending", "lane", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("consumer", Text, nullable=False),
        Column("event_id", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    return outbox, processed


NOTIFY_DDL = [
    f"""
    CREATE OR REPLACE FUNCTION fq_outbox_notify() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS fq_outbox_notify ON outbox",
    "CREATE TRIGGER fq_outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION fq_outbox_notify()",
]


def create_event_tables(op) -> None:
    """Call from a service's first Alembic migration."""
    md = MetaData()
    _outbox, _processed = add_event_tables(md)
    bind = op.get_bind()
    md.create_all(bind)
    for stmt in NOTIFY_DDL:
        op.execute(stmt)


def drop_event_tables(op) -> None:
    op.execute("DROP TRIGGER IF EXISTS fq_outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS fq_outbox_notify()")
    op.drop_table("processed_events")
    op.drop_table("outbox")
