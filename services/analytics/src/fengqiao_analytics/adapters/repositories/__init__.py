"""ALL of the analytics service's SQL: read models (generation, counters, cases, orders, ticker), the
weak-signal ledger, exports."""

from .exports import ExportsRepository
from .ledger import SignalsRepository
from .readmodels import (
    CasesRepository,
    CountersRepository,
    MetaRepository,
    OrdersRepository,
    TickerRepository,
)

__all__ = ["CasesRepository", "CountersRepository", "ExportsRepository", "MetaRepository",
           "OrdersRepository", "SignalsRepository", "TickerRepository"]
