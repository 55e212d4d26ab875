"""read models: counters, cases, orders, weak-signal ledger, ticker

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op
from fengqiao_analytics.adapters import orm

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [orm.meta, orm.counters, orm.cases, orm.orders, orm.signals, orm.signal_history, orm.emitted, orm.ticker]


def upgrade() -> None:
    bind = op.get_bind()
    for t in TABLES:
        t.create(bind)
    op.execute("INSERT INTO a_meta (id, generation) VALUES (1, 1)")
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION a_ticker_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{orm.NOTIFY_CHANNEL}', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute("CREATE TRIGGER a_ticker_notify AFTER INSERT ON a_ticker FOR EACH STATEMENT EXECUTE FUNCTION a_ticker_notify()")
    op.execute(
        "CREATE TRIGGER a_counters_notify AFTER INSERT OR UPDATE ON a_counters "
        "FOR EACH STATEMENT EXECUTE FUNCTION a_ticker_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS a_counters_notify ON a_counters")
    op.execute("DROP TRIGGER IF EXISTS a_ticker_notify ON a_ticker")
    op.execute("DROP FUNCTION IF EXISTS a_ticker_notify()")
    bind = op.get_bind()
    for t in reversed(TABLES):
        t.drop(bind)
