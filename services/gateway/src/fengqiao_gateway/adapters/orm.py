"""ORM tables of the gateway service (its own database): users, sessions, API keys, audit log."""

from fengqiao_events import add_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)

users = Table(
    "users", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100)),
    Column("password_hash", Text, nullable=False),
    Column("roles", ARRAY(String(32)), nullable=False),
    Column("department", String(32)),
    Column("grids", ARRAY(String(32)), nullable=False, server_default="{}"),
    Column("mediator_id", String(64)),
    Column("party_id", String(64)),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

sessions = Table(
    "sessions", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("user_id", UUID(as_uuid=False), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("refresh_hash", String(64), nullable=False),
    Column("previous_refresh_hash", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("refreshed_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", String(64)),
    Column("ip", String(64)),
    Column("user_agent", String(256)),
    Index("ix_sessions_user", "user_id"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(8), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("scope_type", String(32), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("rate_limit_per_minute", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String(64)),
    Column("revoked_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("request_id", String(128)),
    Column("actor_id", String(64)),
    Column("actor_kind", String(16)),
    Column("actor_name", String(100)),
    Column("actor_role", String(32)),
    Column("department", String(32)),
    Column("action", String(128), nullable=False),
    Column("method", String(8)),
    Column("path", String(512)),
    Column("object_type", String(64)),
    Column("object_id", String(128)),
    Column("status", Integer),
    Column("ip", String(64)),
    Column("user_agent", String(256)),
    Column("detail", JSONB),
    # personal data: which fields the owning service said it returned (X-Fengqiao-Audit-Fields), for what
    # purpose (X-Fengqiao-Audit-Purpose), about whom (X-Fengqiao-Audit-Subjects: case ids / numbers)
    Column("fields", String(512)),
    Column("purpose", String(64)),
    Column("subjects", ARRAY(String(128))),
    Column("uid", UUID(as_uuid=False), unique=True),  # written at most once (spooled rows are moved again)
    Index("ix_audit_at", "at"),
    Index("ix_audit_subjects", "subjects", postgresql_using="gin"),
    Index("ix_audit_object", "object_id"),
    Index("ix_audit_actor", "actor_id"),
)
