"""Topic -> handler wiring (thin) and the consumer supervisor: one consumer group over every registered
topic, named after the read-model generation, switched to a fresh group when the read models are rebuilt."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import structlog
from fengqiao_events import EventConsumer, all_specs
from fengqiao_events.consumer import BatchHandler, Handler

from . import service
from .service import Ctx

log = structlog.get_logger("fengqiao.analytics.consumers")


def handlers(ctx: Ctx) -> dict[str, Handler]:
    """The per-message handler of every registered topic (the consumer's slow path), writing for
    ``ctx.generation``; a batch of one through the same fold as :func:`batch_handler`."""

    async def one(session, env, payload) -> None:
        await service.handle_one(ctx, session, env, payload)

    return {spec.topic: one for spec in all_specs()}


def batch_handler(ctx: Ctx) -> BatchHandler:
    """The consumer's fast path: a whole poll's new events folded at once."""

    async def many(session, items) -> None:
        await service.handle_batch(ctx, session, items)

    return many


class ConsumerSupervisor:
    """Runs the read-model consumer of the current generation; polls the generation so that every replica
    follows a rebuild started anywhere (API or CLI)."""

    def __init__(self, runtime, ctx: Ctx):
        self.runtime = runtime
        self.ctx = ctx
        self.generation: int | None = None
        self.consumer: EventConsumer | None = None
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def _read_generation(self) -> int:
        async with self.runtime.session_factory() as s:
            return await service.current_generation(s)

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
        s = self.runtime.settings
        ctx = dataclasses.replace(self.ctx, generation=generation)
        self.consumer = EventConsumer(
            name=service.group_name(s, generation), bootstrap=s.kafka_bootstrap_servers,
            session_factory=self.runtime.session_factory,
            handlers=handlers(ctx), batch_handler=batch_handler(ctx),
            producer=self.runtime.producer, max_attempts=s.consumer_max_attempts, batch_size=s.consumer_batch_size,
        )
        self.generation = generation
        self._task = asyncio.create_task(self.consumer.run(), name=f"consumer-g{generation}")
        log.info("read-model consumer started", group=self.consumer.name)

    async def rebuild(self) -> int:
        async with self._lock:
            await self._stop_consumer()
            async with self.runtime.session_factory() as s:
                gen = await service.reset_read_models(self.ctx, s)
            self._start_consumer(gen)
            return gen

    async def run(self) -> None:
        try:
            while True:
                try:
                    gen = await self._read_generation()
                    async with self._lock:
                        if gen != self.generation:
                            await self._stop_consumer()
                            self._start_consumer(gen)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("generation poll failed", error=repr(exc))
                await asyncio.sleep(self.runtime.settings.generation_poll_interval)
        finally:
            await self._stop_consumer(grace=0)
