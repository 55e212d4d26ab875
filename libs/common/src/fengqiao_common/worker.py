"""The periodic background worker every service uses (webhook sender, timers, reminders...).

``periodic(step, interval)`` calls ``step()`` forever: when a round did a full batch of work
(``step`` returned a true value, or a number >= ``busy_at``) the next round starts at once,
otherwise it sleeps ``interval`` seconds. A failing round is logged and retried after the
interval; cancellation stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger("fengqiao.worker")


async def periodic(step: Callable[[], Awaitable[Any]], interval: float, *, name: str = "worker",
                   busy_at: int = 1) -> None:
    while True:
        try:
            done = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("background round failed", worker=name, error=repr(exc))
            done = 0
        busy = (done >= busy_at) if isinstance(done, int) and not isinstance(done, bool) else bool(done)
        if not busy:
            await asyncio.sleep(interval)
