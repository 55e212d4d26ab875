"""What dispatch's use cases, consumers and workers need, built once per process at start-up."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fengqiao_common.app import Runtime, deps_getter
from fengqiao_common.clock import Clock
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .adapters.uow import DispatchUoW
from .config import Settings


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    jurisdiction: Jurisdiction
    outbox: Outbox
    session_factory: async_sessionmaker
    replica: str  # who fired a timer (host:pid:runtime)

    def uow(self) -> DispatchUoW:
        """A unit of work with its own transaction (API requests, the timer loop, the seed)."""
        return DispatchUoW(self.session_factory, self.outbox, self.clock)

    def uow_joined(self, session: AsyncSession) -> DispatchUoW:
        """A unit of work inside a consumer's transaction; the routing rules are read once per
        transaction (a poll's batch routes its cases with the same rules)."""
        return DispatchUoW.joined(session, self.outbox, self.clock, rules_per_transaction=True)


async def build(runtime: Runtime) -> Deps:
    return Deps(
        settings=runtime.settings,  # type: ignore[arg-type]
        clock=runtime.clock,
        jurisdiction=runtime.jurisdiction,
        outbox=runtime.outbox,
        session_factory=runtime.session_factory,
        replica=f"{socket.gethostname()}:{os.getpid()}:{id(runtime):x}",
    )


DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]
