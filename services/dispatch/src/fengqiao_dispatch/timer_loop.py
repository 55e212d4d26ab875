"""The background task that fires due timers (every replica runs one; SKIP LOCKED shares the work)."""

from __future__ import annotations

import asyncio
import os
import socket

import structlog

from . import service

log = structlog.get_logger("fengqiao.dispatch.timers")


async def timer_loop(rt) -> None:
    replica = f"{socket.gethostname()}:{os.getpid()}:{id(rt):x}"
    interval = rt.settings.timer_poll_interval
    while True:
        try:
            fired = await service.fire_due_timers(rt, replica)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("timer round failed", error=repr(exc))
            fired = 0
        if fired < rt.settings.timer_batch_size:
            await asyncio.sleep(interval)
