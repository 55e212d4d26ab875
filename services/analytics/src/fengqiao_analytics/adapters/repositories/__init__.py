"""ALL of the analytics service's SQL: read models (generation, counters, cases, orders, ticker), the
weak-signal ledger, the rates by period, exports."""

from .exports import ExportsRepository
from .ledger import SignalsRepository
from .rates import RatesRepository
from .readmodels import (
    CasesRepository,
    CountersRepository,
    MetaRepository,
    OrdersRepository,
    TickerRepository,
)

__all__ = ["CasesRepository", "CountersRepository", "ExportsRepository", "MetaRepository",
           "OrdersRepository", "RatesRepository", "SignalsRepository", "TickerRepository"]
