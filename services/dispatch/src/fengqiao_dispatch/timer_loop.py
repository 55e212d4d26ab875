"""The background task that fires due timers (every replica runs one; SKIP LOCKED shares the work)."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import structlog

from . import service
from .metrics import ORDERS_OVERDUE, TIMERS_DUE

log = structlog.get_logger("fengqiao.dispatch.timers")


async def timer_loop(rt) -> None:
    replica = f"{socket.gethostname()}:{os.getpid()}:{id(rt):x}"
    interval = rt.settings.timer_poll_interval
    last_gauges = 0.0
    while True:
        if time.monotonic() - last_gauges > 10:
            try:
                await refresh_gauges(rt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("gauge refresh failed", error=repr(exc))
            last_gauges = time.monotonic()
        try:
            fired = await service.fire_due_timers(rt, replica)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("timer round failed", error=repr(exc))
            fired = 0
        if fired < rt.settings.timer_batch_size:
            await asyncio.sleep(interval)


async def refresh_gauges(rt) -> None:
    overdue, due = await service.operational_counts(rt)
    for dept in {d.code for d in rt.jurisdiction.departments if d.role == "department"} | set(overdue):
        ORDERS_OVERDUE.labels(dept).set(overdue.get(dept, 0))
    TIMERS_DUE.set(due)
