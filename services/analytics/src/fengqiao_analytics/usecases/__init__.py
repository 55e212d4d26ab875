"""Use cases of analytics, each ``async def verb(uow, ...)`` over an :class:`AnalyticsUoW` (or the tests'
fake): ingest (the batch fold), rules (weak-signal rules), signals (the ledger), situation and screen
(reads), exports, rebuild."""
