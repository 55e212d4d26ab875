"""Business gauges of dispatch, refreshed by the timer loop (alerts: overdue orders, timers due)."""

from prometheus_client import Gauge

ORDERS_OVERDUE = Gauge("fq_dispatch_orders_overdue", "Open orders past a time limit", ["department"])
TIMERS_DUE = Gauge("fq_dispatch_timers_due", "Timers due and not yet fired")
