"""Dispatch's unit of work: one transaction over its tables, the events it emits written to the
outbox at commit (see fengqiao_common.uow)."""

from __future__ import annotations

from typing import Any

from fengqiao_common.clock import Clock
from fengqiao_common.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .repositories import (
    CaseRepository,
    OrderRepository,
    RuleRepository,
    TimelineRepository,
    TimerRepository,
)


class DispatchUoW(SqlUnitOfWork):
    cases: CaseRepository
    orders: OrderRepository
    timers: TimerRepository
    timeline: TimelineRepository
    rules: RuleRepository

    def __init__(self, session_factory: async_sessionmaker | None, outbox: Any, clock: Clock | None = None, *,
                 session: AsyncSession | None = None, rules_per_transaction: bool = False):
        self._rules_per_transaction = rules_per_transaction
        super().__init__(session_factory, outbox, clock, session=session)

    def _bind(self, session: AsyncSession) -> None:
        self.cases = CaseRepository(session)
        self.orders = OrderRepository(session)
        self.timers = TimerRepository(session)
        self.timeline = TimelineRepository(session)
        self.rules = RuleRepository(session, per_transaction=self._rules_per_transaction)
