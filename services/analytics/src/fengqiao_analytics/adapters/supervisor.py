"""The read-model consumer's lifecycle: one consumer group per read-model generation, switched to a fresh
group when the read models are rebuilt (API or CLI, in any replica: the generation is polled)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from fengqiao_common.app import ConsumerSpec
from fengqiao_events import EventConsumer, ProducerHolder
from fengqiao_events.registry import trusted_sources
from sqlalchemy.ext.asyncio import async_sessionmaker

log = structlog.get_logger("fengqiao.analytics.consumers")


class ConsumerSupervisor:
    """Runs the consumer of the current generation (``spec_for(generation)``)."""

    def __init__(self, *, spec_for: Callable[[int], ConsumerSpec], read_generation: Callable[[], Awaitable[int]],
                 bootstrap: str, session_factory: async_sessionmaker, producer: ProducerHolder,
                 max_attempts: int, batch_size: int, poll_interval: float):
        self.spec_for, self.read_generation = spec_for, read_generation
        self.bootstrap, self.session_factory, self.producer = bootstrap, session_factory, producer
        self.max_attempts, self.batch_size, self.poll_interval = max_attempts, batch_size, poll_interval
        self.generation: int | None = None
        self.consumer: EventConsumer | None = None
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def _stop_consumer(self, grace: float = 20.0) -> None:
        """Stop the consumer after its current batch (a rebuild), or at once with ``grace=0`` (shutdown: an
        interrupted batch rolls back and is read again, offsets being committed only after processing)."""
        c, t = self.consumer, self._task
        self.consumer, self._task = None, None
        if c is not None:
            c.stop()
        if t is not None:
            if grace > 0:
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(t), grace)
            if not t.done():
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 3)

    def _start_consumer(self, generation: int) -> None:
        spec = self.spec_for(generation)
        self.consumer = EventConsumer(
            name=spec.name, bootstrap=self.bootstrap, session_factory=self.session_factory,
            handlers=spec.handlers, batch_handler=spec.batch_handler, producer=self.producer,
            max_attempts=self.max_attempts, batch_size=self.batch_size,
            trusted_sources=trusted_sources,  # a topic's events only from its owner (forged ones dead-lettered)
        )
        self.generation = generation
        self._task = asyncio.create_task(self.consumer.run(), name=f"consumer-g{generation}")
        log.info("read-model consumer started", group=spec.name)

    async def switch(self, reset: Callable[[], Awaitable[int]]) -> int:
        """Stop the consumer, run ``reset`` (returns the new generation), start that generation's consumer."""
        async with self._lock:
            await self._stop_consumer()
            gen = await reset()
            self._start_consumer(gen)
            return gen

    async def run(self) -> None:
        try:
            while True:
                try:
                    gen = await self.read_generation()
                    async with self._lock:
                        if gen != self.generation:
                            await self._stop_consumer()
                            self._start_consumer(gen)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("generation poll failed", error=repr(exc))
                await asyncio.sleep(self.poll_interval)
        finally:
            await self._stop_consumer(grace=0)
