"""ORM tables of the analytics service (its own database)."""

from sqlalchemy import MetaData

from fengqiao_events import add_event_tables

metadata = MetaData()
outbox, processed_events = add_event_tables(metadata)
