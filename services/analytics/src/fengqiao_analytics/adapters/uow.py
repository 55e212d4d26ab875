"""The analytics unit of work: the repositories over one transaction (see fengqiao_common.uow)."""

from __future__ import annotations

from fengqiao_common.ids import new_id
from fengqiao_common.uow import SqlUnitOfWork
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from .repositories import (
    CasesRepository,
    CountersRepository,
    ExportsRepository,
    MetaRepository,
    OrdersRepository,
    RatesRepository,
    SignalsRepository,
    TickerRepository,
)


class AnalyticsUoW(SqlUnitOfWork):
    meta: MetaRepository
    counters: CountersRepository
    rates: RatesRepository
    cases: CasesRepository
    orders: OrdersRepository
    ticker: TickerRepository
    signals: SignalsRepository
    exports: ExportsRepository

    def _bind(self, session: AsyncSession) -> None:
        self.meta = MetaRepository(session)
        self.counters = CountersRepository(session)
        self.rates = RatesRepository(session)
        self.cases = CasesRepository(session)
        self.orders = OrdersRepository(session)
        self.ticker = TickerRepository(session)
        self.signals = SignalsRepository(session)
        self.exports = ExportsRepository(session)

    def emit_identified(self, payload: BaseModel) -> str:
        """Queue an event whose id is known now (the ledger keys a status change by its event id, so that
        our own consumer sees the published event as already applied)."""
        event_id = new_id()
        self._event_ids = {**getattr(self, "_event_ids", {}), id(payload): event_id}
        self.emit(payload)
        return event_id

    async def flush_events(self) -> list:
        if not self._pending:
            return []
        assert self.session is not None
        ids = getattr(self, "_event_ids", {})
        envs = []
        for p, c in self._pending:
            env = self.outbox.envelope(p, causation=c)
            envs.append(env.model_copy(update={"id": ids[id(p)]}) if id(p) in ids else env)
        await self.outbox.add_envelopes(self.session, envs)
        self._pending.clear()
        self._event_ids = {}
        return envs
