"""Rebuild: empty the read models and move to a new generation, i.e. a new consumer group that replays
every topic from the beginning. The ledger's status changes are events themselves, so they come back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from ..domain.errors import Deadlocked

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW

log = structlog.get_logger("fengqiao.analytics")


def group_name(base: str, generation: int) -> str:
    """The consumer group of a read-model generation."""
    return f"{base}-g{generation}"


async def reset_read_models(uow: AnalyticsUoW, *, consumer_group: str, attempts: int = 5) -> int:
    """One transaction; returns the new generation. The generation row is locked first, as consumer batches
    do; a deadlock with a concurrent reader is retried."""
    for attempt in range(1, attempts + 1):
        try:
            async with uow:
                new = await uow.meta.reset(lambda gen: group_name(consumer_group, gen))
                await uow.commit()
            break
        except Deadlocked:
            if attempt == attempts:
                raise
            log.warning("rebuild deadlocked with a reader; retrying", attempt=attempt)
            await asyncio.sleep(0.2 * attempt)
    log.info("read models reset", generation=new)
    return new


class Switcher:
    """What restarts the consumer around a reset (the running service's supervisor)."""

    async def switch(self, reset: Callable[[], Awaitable[int]]) -> int: ...  # pragma: no cover


async def rebuild(uow: AnalyticsUoW, *, consumer_group: str, supervisor: Switcher | None = None) -> dict:
    """Reset the read models; the supervisor (if this process runs the consumer) stops the old consumer
    first and starts the new generation's; otherwise every replica follows the new generation."""
    async def reset() -> int:
        return await reset_read_models(uow, consumer_group=consumer_group)

    gen = await (supervisor.switch(reset) if supervisor is not None else reset())
    return {"generation": gen, "consumer_group": group_name(consumer_group, gen), "status": "replaying"}


async def status(uow: AnalyticsUoW, *, consumer_group: str) -> dict:
    async with uow:
        gen = await uow.meta.generation()
        group = group_name(consumer_group, gen)
        return {"generation": gen, "consumer_group": group, "processed_events": await uow.meta.processed(group),
                "rebuilt_at": await uow.meta.rebuilt_at()}
