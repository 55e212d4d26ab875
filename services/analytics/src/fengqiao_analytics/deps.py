"""The analytics service's typed dependencies (composition root of everything below the routers)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends
from fengqiao_common.app import Runtime, deps_getter
from fengqiao_common.clock import Clock
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .adapters.live import LiveHub
from .adapters.supervisor import ConsumerSupervisor
from .adapters.uow import AnalyticsUoW
from .config import Settings
from .usecases.context import Context


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    jurisdiction: Jurisdiction
    outbox: Outbox
    session_factory: async_sessionmaker
    hub: LiveHub | None = None  # the SSE fan-out (None outside a running service)
    supervisor: ConsumerSupervisor | None = None  # None when this process runs no consumers

    @cached_property
    def context(self) -> Context:
        return Context(self.jurisdiction, self.settings.weak_signals, self.settings.timezone)

    def uow(self) -> AnalyticsUoW:
        return AnalyticsUoW(self.session_factory, self.outbox, self.clock)

    def uow_joined(self, session: AsyncSession) -> AnalyticsUoW:
        """A unit of work inside a consumer's transaction (never commits it)."""
        return AnalyticsUoW.joined(session, self.outbox, self.clock)


async def build(runtime: Runtime) -> Deps:
    from . import consumers
    from .usecases import screen

    s: Settings = runtime.settings  # type: ignore[assignment]
    deps = Deps(s, runtime.clock, runtime.jurisdiction, runtime.outbox, runtime.session_factory)

    async def snapshot():
        return await screen.snapshot(deps.uow(), deps.context)

    deps.hub = LiveHub(s.asyncpg_dsn, snapshot, s.stream_interval)
    if s.run_consumers:
        async def read_generation() -> int:
            async with deps.uow() as uow:
                return await uow.meta.generation()

        deps.supervisor = ConsumerSupervisor(
            spec_for=lambda gen: consumers.spec(deps, gen), read_generation=read_generation,
            bootstrap=s.kafka_bootstrap_servers, session_factory=runtime.session_factory,
            producer=runtime.producer, max_attempts=s.consumer_max_attempts, batch_size=s.consumer_batch_size,
            poll_interval=s.generation_poll_interval)
    return deps


DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]
