"""The background task that fires due timers (every replica runs one; SKIP LOCKED shares the work),
and refreshes the business gauges every 10 seconds."""

from __future__ import annotations

import time

import structlog
from fengqiao_common.worker import periodic

from .deps import Deps
from .metrics import ORDERS_OVERDUE, TIMERS_DUE
from .usecases.reads import operational_counts
from .usecases.timers import fire_due_timers

log = structlog.get_logger("fengqiao.dispatch.timers")
GAUGE_EVERY = 10.0


async def timer_loop(rt) -> None:
    deps: Deps = rt.deps
    last_gauges = -GAUGE_EVERY - 1.0

    async def step() -> int:
        nonlocal last_gauges
        if time.monotonic() - last_gauges > GAUGE_EVERY:
            try:
                await refresh_gauges(deps)
            except Exception as exc:
                log.warning("gauge refresh failed", error=repr(exc))
            last_gauges = time.monotonic()
        return await fire_due_timers(deps.uow(), jurisdiction=deps.jurisdiction,
                                     batch_size=deps.settings.timer_batch_size, replica=deps.replica)

    await periodic(step, deps.settings.timer_poll_interval, name="dispatch-timers",
                   busy_at=deps.settings.timer_batch_size)


async def refresh_gauges(deps: Deps) -> None:
    overdue, due = await operational_counts(deps.uow())
    for dept in {d.code for d in deps.jurisdiction.departments if d.role == "department"} | set(overdue):
        ORDERS_OVERDUE.labels(dept).set(overdue.get(dept, 0))
    TIMERS_DUE.set(due)
