"""In-memory repositories and unit of work of analytics: the same interface as adapters/uow.py and
adapters/repositories/, for the use cases' unit tests (no PostgreSQL, no Kafka).

All state lives in one :class:`FakeDb` held by the unit of work (``uow.db``), so that a rollback restores
it; the repositories read it through the unit of work."""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fengqiao_analytics.domain import readmodel as rm
from fengqiao_analytics.usecases.context import Context
from fengqiao_common.clock import ManualClock
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import ServiceSettings
from fengqiao_common.uow import FakeUnitOfWork

TICKER_KEEP = 500
SIGNAL_DEFAULTS = {
    "source": "rule", "rule": None, "subject": None, "grid": None, "community": None, "category": None,
    "reasons": [], "case_ids": [], "summary": None, "people_involved": 0, "active": False, "status": "new",
    "assignee": None, "first_at": None, "became_case_id": None, "became_case_at": None, "updated_at": None,
}
_JURISDICTION = None


def context(**thresholds) -> Context:
    """The demo jurisdiction (loaded once), Asia/Shanghai, default thresholds unless overridden."""
    from fengqiao_analytics.config import WeakSignalThresholds

    global _JURISDICTION
    if _JURISDICTION is None:
        _JURISDICTION = load(str(ServiceSettings().jurisdiction_file))
    return Context(_JURISDICTION, WeakSignalThresholds(**thresholds))


@dataclass
class FakeDb:
    generation: int = 1
    rebuilt_at: datetime | None = None
    processed: dict[str, set[str]] = field(default_factory=dict)  # consumer group -> event ids
    counters: Counter = field(default_factory=Counter)
    rates: Counter = field(default_factory=Counter)  # (period, department, measure) -> value
    cases: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    ticker: list[dict] = field(default_factory=list)
    ticker_next: int = 1
    signals: dict[str, dict] = field(default_factory=dict)
    history: dict[str, dict] = field(default_factory=dict)  # event id -> entry
    emitted: set[str] = field(default_factory=set)  # survives resets, as a_emitted


class _Repo:
    def __init__(self, uow: FakeAnalyticsUoW):
        self.uow = uow

    @property
    def db(self) -> FakeDb:
        return self.uow.db


class FakeMeta(_Repo):
    async def generation(self) -> int:
        return self.db.generation

    async def is_current(self, generation: int) -> bool:
        return self.db.generation == generation

    async def reset(self, consumer_of) -> int:
        db, gen = self.db, self.db.generation
        db.counters, db.cases, db.orders, db.ticker, db.rates = Counter(), {}, {}, [], Counter()
        db.signals, db.history = {}, {}
        db.processed.pop(consumer_of(gen), None)
        db.generation, db.rebuilt_at = gen + 1, self.uow.now()
        return gen + 1

    async def processed(self, consumer: str) -> int:
        return len(self.db.processed.get(consumer, ()))

    async def rebuilt_at(self) -> datetime | None:
        return self.db.rebuilt_at


class FakeCounters(_Repo):
    def stage(self, deltas) -> None:
        self.db.counters.update(deltas)

    async def read(self, dims, keys=()) -> dict[tuple[str, str], int]:
        dims, keys = set(dims), set(keys)
        return {k: v for k, v in self.db.counters.items() if k[0] in dims or k in keys}


class FakeRates(_Repo):
    def stage(self, deltas) -> None:
        self.db.rates.update(deltas)

    async def read(self, periods: list[str]) -> dict[tuple[str, str, str], int]:
        return {k: v for k, v in self.db.rates.items() if k[0] in set(periods)}


class FakeCases(_Repo):
    async def lock_many(self, case_ids: list[str]) -> list[dict]:
        for c in case_ids:
            self.db.cases.setdefault(c, {"case_id": c, **copy.deepcopy(rm.CASE_DEFAULTS)})
        return [copy.deepcopy(self.db.cases[c]) for c in sorted(case_ids)]

    async def update_many(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.cases[r["case_id"]] = copy.deepcopy(r)

    async def first_reported(self, grid, category, after, until):
        found = sorted((c["reported_at"], c["case_id"]) for c in self.db.cases.values()
                       if c["reported"] and c["grid"] == grid and c["category"] == category
                       and after < c["reported_at"] <= until)
        return (found[0][1], found[0][0]) if found else None

    async def window_counts(self, match: list[str], keys: list[tuple], *, wage_arrears: bool = False):
        out = {}
        n = len(match)
        for key in keys:
            hits = [c for c in self.db.cases.values()
                    if c["reported"] and all(c[m] == key[i] for i, m in enumerate(match))
                    and key[n] <= c["reported_at"] < key[n + 1] and (c["wage_arrears"] or not wage_arrears)]
            if hits:
                out[key] = (len(hits), sorted(c["case_id"] for c in hits), min(c["reported_at"] for c in hits))
        return out


class FakeOrders(_Repo):
    async def lock_many(self, rows: list[dict]) -> list[dict]:
        for r in rows:
            self.db.orders.setdefault(r["order_id"], {**copy.deepcopy(rm.ORDER_DEFAULTS), **r})
        return [copy.deepcopy(self.db.orders[r["order_id"]]) for r in sorted(rows, key=lambda r: r["order_id"])]

    async def of_cases(self, case_ids: list[str]) -> list[dict]:
        cols = ("order_id", "case_id", "department", "dispatched", "status", "missed_stages")
        return [{k: copy.deepcopy(o[k]) for k in cols} for o in self.db.orders.values() if o["case_id"] in case_ids]

    async def update_many(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.orders[r["order_id"]] = copy.deepcopy(r)


class FakeTicker(_Repo):
    async def add(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.ticker.append({"id": self.db.ticker_next, **r})
            self.db.ticker_next += 1
        self.db.ticker = self.db.ticker[-TICKER_KEEP:]

    async def recent(self, after_id: int = 0, limit: int = 20) -> list[dict]:
        return [dict(r) for r in self.db.ticker if r["id"] > after_id][-limit:]


def _listed(s: dict) -> bool:
    return s["source"] != "pending" and (s["active"] or s["status"] != "new")


class FakeSignals(_Repo):
    def _row(self, sid: str) -> dict:
        return self.db.signals.setdefault(sid, {"signal_id": sid, **copy.deepcopy(SIGNAL_DEFAULTS),
                                                "updated_at": self.uow.now()})

    async def deactivate_many(self, rows: list[dict]) -> None:
        for r in rows:
            s = self.db.signals.get(r["signal_id"])
            if s is not None:
                s.update(active=False, reasons=r["reasons"], case_ids=r["case_ids"],
                         first_at=r["first_at"] if r["first_at"] is not None else s["first_at"])

    async def upsert_rules(self, rows: list[dict]) -> list[str]:
        new = []
        for r in rows:
            if r["signal_id"] not in self.db.signals:
                new.append(r["signal_id"])
            s = self._row(r["signal_id"])
            s.update({k: r[k] for k in ("source", "rule", "subject", "active", "reasons", "case_ids",
                                        "people_involved")})
            for k in ("grid", "community", "category", "first_at"):
                if r[k] is not None:
                    s[k] = r[k]
            s["updated_at"] = self.uow.now()
        return sorted(new)

    async def first_announcements(self, signal_ids: list[str]) -> list[str]:
        first = sorted(set(signal_ids) - self.db.emitted)
        self.db.emitted.update(first)
        return first

    async def upsert_report(self, row: dict[str, Any]) -> None:
        s = self._row(row["signal_id"])
        s.update(row, source="report", rule="grid_report", active=True, updated_at=self.uow.now())

    async def set_became_case(self, signal_id: str, case_id: str, at: datetime) -> None:
        self.db.signals[signal_id].update(became_case_id=case_id, became_case_at=at)

    async def mark_conversions(self, reports, within: timedelta) -> None:
        for s in self.db.signals.values():
            if s["source"] != "report":
                continue
            hits = sorted((t, cid) for grid, cat, t, cid in reports
                          if s["grid"] == grid and s["category"] == cat and t - within <= s["first_at"] < t)
            if hits and (s["became_case_at"] is None or (s["became_case_at"], s["became_case_id"]) > hits[0]):
                s["became_case_at"], s["became_case_id"] = hits[0]

    async def add_history(self, entry: dict[str, Any]) -> bool:
        if entry["event_id"] in self.db.history:
            return False
        self.db.history[entry["event_id"]] = dict(entry)
        return True

    async def latest_status(self, signal_id: str) -> tuple[str, str | None]:
        h = max((h for h in self.db.history.values() if h["signal_id"] == signal_id),
                key=lambda h: (h["at"], h["event_id"]))
        return h["to_status"], h["assignee"]

    async def set_status(self, signal_id: str, status: str, assignee: str | None) -> None:
        if signal_id not in self.db.signals:
            self._row(signal_id)["source"] = "pending"
        self.db.signals[signal_id].update(status=status, assignee=assignee, updated_at=self.uow.now())

    async def get(self, signal_id: str, *, lock: bool = False) -> dict | None:
        s = self.db.signals.get(signal_id)
        return copy.deepcopy(s) if s is not None else None

    async def history(self, signal_id: str) -> list[dict]:
        return sorted((dict(h) for h in self.db.history.values() if h["signal_id"] == signal_id),
                      key=lambda h: (h["at"], h["event_id"]))

    async def listed(self, *, status=None, rule=None, grid=None, community=None, limit=50, offset=0,
                     departments=None, grids=None):
        scoped = departments is not None or grids is not None
        rows = [s for s in self.db.signals.values() if _listed(s)
                and all(v is None or s[k] == v for k, v in
                        (("status", status), ("rule", rule), ("grid", grid), ("community", community)))
                and (not scoped or s["assignee"] in (departments or []) or s["grid"] in (grids or []))]
        rows.sort(key=lambda s: s["signal_id"])
        rows.sort(key=lambda s: (s["first_at"] is None, -(s["first_at"].timestamp() if s["first_at"] else 0)))
        return len(rows), [copy.deepcopy(s) for s in rows[offset:offset + limit]]

    async def counts(self) -> list[tuple[str, str, int, int]]:
        c: Counter = Counter()
        conv: Counter = Counter()
        for s in self.db.signals.values():
            if _listed(s):
                c[(s["rule"], s["status"])] += 1
                conv[(s["rule"], s["status"])] += s["became_case_id"] is not None
        return [(r, st, n, conv[(r, st)]) for (r, st), n in sorted(c.items())]


class FakeExports(_Repo):
    async def stream(self, kind, columns, filters, limit):
        table = {"cases": self.db.cases, "orders": self.db.orders, "signals": self.db.signals}[kind]
        scope = filters.get("scope")

        def allowed(r: dict) -> bool:
            if scope is None:
                return True
            if kind == "cases":
                held = {o["department"] for o in self.db.orders.values() if o["case_id"] == r["case_id"]}
                return scope.sees_case(r, held)
            return scope.sees_order(r) if kind == "orders" else scope.sees_signal(r)

        rows = [r for r in table.values() if (kind != "cases" or r["reported"])
                and (not filters.get("grid") or r["grid"] == filters["grid"]) and allowed(r)]
        yield [tuple(r.get(c) for c in columns) for r in rows[:limit]]


class FakeAnalyticsUoW(FakeUnitOfWork):
    """The in-memory twin of ``AnalyticsUoW``; ``event_ids`` pairs each identified event with its id."""

    repositories = ("db",)

    def __init__(self, db: FakeDb | None = None, clock=None):
        super().__init__(clock or ManualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)))
        self.db = db or FakeDb()
        self.event_ids: dict[int, str] = {}
        self.meta, self.counters, self.cases = FakeMeta(self), FakeCounters(self), FakeCases(self)
        self.orders, self.ticker, self.signals = FakeOrders(self), FakeTicker(self), FakeSignals(self)
        self.exports = FakeExports(self)
        self.rates = FakeRates(self)

    def emit_identified(self, payload) -> str:
        event_id = str(uuid.uuid4())
        self.event_ids[id(payload)] = event_id
        self.emit(payload)
        return event_id

    def id_of(self, payload) -> str:
        return self.event_ids[id(payload)]
