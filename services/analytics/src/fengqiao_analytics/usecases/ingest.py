"""Ingest: fold events into the read models.

:func:`fold_batch` takes a whole poll at once (the consumer's fast path): case and order rows are locked
and loaded with one statement each, the events applied in memory in their order with the pure reducers of
domain/readmodel.py (exactly as one by one), the changed rows written back with one executemany each, and
the rules run once per batch over the final state (set-based). Counter deltas are the difference between
each row's contributions as loaded and as written, so they telescope to the same sums as per-event deltas.
:func:`fold_one` (the slow path, message by message) is a batch of one. This set-based fold is what makes
the service ingest ~1,600 events/s (bench/RESULTS-analytics-ingest.md).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from fengqiao_common.clock import aware
from fengqiao_events import Envelope

from ..domain import rates as rt
from ..domain import readmodel as rm
from ..domain.topics import CASE_TOPICS, MEDIATION_TOPICS, ORDER_TOPICS, TICKER_TOPICS
from . import rules, signals
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW

_CASE_COUNTED = frozenset({"order.returned", "order.escalated"})  # order events that count on their case


def _case_relevant(o: dict) -> tuple:
    """The part of an order that a case's aggregates depend on."""
    return (o.get("dispatched"), o.get("status") == "returned",
            bool(o.get("missed_stages")) and o.get("status") in rm.ORDER_OPEN)


async def _report(uow: AnalyticsUoW, ctx: Context, env: Envelope, p: Any) -> None:
    await signals.record_report(uow, ctx, p)


async def _triaged(uow: AnalyticsUoW, ctx: Context, env: Envelope, p: Any) -> None:
    await signals.apply_triage(uow, env.id, p)


# Events handled one by one against the tables (rare; not folded in memory).
OTHER_HANDLERS = {"weak-signal.reported": _report, "weak-signal.triaged": _triaged}


class Fold:
    """One batch's case, order and mediation rows, in memory between :meth:`load` and :meth:`finish`."""

    def __init__(self, uow: AnalyticsUoW, ctx: Context):
        self.uow, self.ctx = uow, ctx
        self.deltas: Counter = Counter()
        self.rate_deltas: Counter = Counter()  # (period, department, measure) -> delta (domain/rates.py)
        self.cases: dict[str, dict] = {}
        self.case_base: dict[str, dict] = {}  # as last written
        self.orders: dict[str, dict] = {}
        self.order_base: dict[str, dict] = {}
        self.case_orders: dict[str, set[str]] = {}  # case id -> its order ids (for the case aggregates)
        self.order_rows: dict[str, dict] = {}  # orders of those cases that this batch does not touch
        self.tick: list[dict] = []
        self.rule_cases: set[str] = set()
        self.reports: dict[str, dict] = {}  # case id -> the case as its report left it (window rules)

    async def load(self, items: list[tuple[Envelope, Any]]) -> None:
        first: dict[str, tuple[str, str]] = {}
        for env, p in items:
            if env.topic in ORDER_TOPICS:
                first.setdefault(p.order_id, (p.case_id, p.department))
        if first:
            rows = [{"order_id": o, "case_id": c, "department": d} for o, (c, d) in sorted(first.items())]
            for r in await self.uow.orders.lock_many(rows):
                self.orders[r["order_id"]] = self.order_base[r["order_id"]] = r
            for r in await self.uow.orders.of_cases(sorted({c for c, _ in first.values()})):
                self.case_orders.setdefault(r["case_id"], set()).add(r["order_id"])
                if r["order_id"] not in self.orders:
                    self.order_rows[r["order_id"]] = dict(r)
        # the cases this batch changes: those of case events, and those of order events that touch them
        need = {p.case_id for env, p in items if env.topic in CASE_TOPICS}
        sim = dict(self.orders)
        for env, p in items:
            if env.topic in ORDER_TOPICS:
                o_old = sim[p.order_id]
                sim[p.order_id] = o_new = rm.apply_order_event(o_old, env.topic, p)
                if env.topic in _CASE_COUNTED or _case_relevant(o_old) != _case_relevant(o_new):
                    need.add(p.case_id)
        if need:
            for r in await self.uow.cases.lock_many(sorted(need)):
                self.cases[r["case_id"]] = self.case_base[r["case_id"]] = r

    def apply_case(self, topic: str, p: Any) -> None:
        if topic == "grid.event.reported":
            p = p.model_copy(update={"reported_at": aware(p.reported_at)})
        new = rm.apply_case_event(self.cases[p.case_id], topic, p)
        self.cases[p.case_id] = new
        self.rule_cases.add(p.case_id)
        if topic == "grid.event.reported":
            self.reports[p.case_id] = new
        if topic in TICKER_TOPICS:
            self.tick.append(rm.ticker_row(topic, aware(getattr(p, "reported_at", None) or p.at),
                                           case_no=new["case_no"], grid=new["grid"], category=new["category"],
                                           grade=new["grade"]))

    def apply_order(self, topic: str, p: Any) -> None:
        o_old = self.orders[p.order_id]
        o_new = rm.apply_order_event(o_old, topic, p)
        self.orders[p.order_id] = o_new
        self.case_orders.setdefault(p.case_id, set()).add(p.order_id)
        if topic in _CASE_COUNTED or _case_relevant(o_old) != _case_relevant(o_new):
            case_old = self.cases[p.case_id]  # locked by load()
            rows = [self.orders.get(o) or self.order_rows[o] for o in sorted(self.case_orders[p.case_id])]
            depts, overdue = rm.case_aggregates_from_orders(rows)
            case_new = rm.apply_case_event(case_old, topic, p)
            case_new.update(departments=depts, overdue_orders=overdue)
            case_new["status"] = rm.case_status(case_new)
            self.cases[p.case_id] = case_new
            if topic in _CASE_COUNTED:
                self.rule_cases.add(p.case_id)
        if topic in TICKER_TOPICS:
            self.tick.append(rm.ticker_row(topic, aware(p.at), case_no=o_new["case_no"], grid=o_new["grid"],
                                           category=o_new["category"], grade=o_new["grade"],
                                           department=o_new["department"]))

    def apply_mediation(self, topic: str, p: Any) -> None:
        self.deltas.update({("med", topic): 1, ("med_cat", f"{topic}|{p.category}"): 1})
        if topic == "mediation.booked" and p.mode == "home":
            self.deltas.update({("med", "home"): 1})
        if topic in TICKER_TOPICS:
            self.tick.append(rm.ticker_row(topic, aware(p.at), category=p.category))

    async def flush(self) -> None:
        """Write changed rows (executemany) and the ticker; other handlers may then read the tables."""
        tz = self.ctx.tz
        changed = sorted(c for c, row in self.cases.items()
                         if row is not self.case_base[c] and row != self.case_base[c])
        await self.uow.cases.update_many([self.cases[c] for c in changed])
        for c in changed:
            old, new = self.case_base[c], self.cases[c]
            self.deltas.update(rm.diff(rm.case_contributions(old, tz), rm.case_contributions(new, tz)))
            if old.get("rating") or new.get("rating"):
                self.rate_deltas.update(rm.diff(rt.case_rate_contributions(old, tz), rt.case_rate_contributions(new, tz)))
        self.case_base.update(self.cases)
        changed = sorted(o for o, row in self.orders.items()
                         if row is not self.order_base[o] and row != self.order_base[o])
        await self.uow.orders.update_many([self.orders[o] for o in changed])
        for o in changed:
            old, new = self.order_base[o], self.orders[o]
            self.deltas.update(rm.diff(rm.order_contributions(old), rm.order_contributions(new)))
            self.rate_deltas.update(rm.diff(rt.order_rate_contributions(old, tz), rt.order_rate_contributions(new, tz)))
        self.order_base.update(self.orders)
        tick, self.tick = self.tick, []
        await self.uow.ticker.add(tick)

    async def finish(self) -> None:
        await self.flush()
        for cid in sorted(self.rule_cases):
            await rules.evaluate_case_rules(self.uow, self.ctx, self.cases[cid])
        reports, self.rule_cases, self.reports = list(self.reports.values()), set(), {}
        await rules.evaluate_report_rules(self.uow, self.ctx, reports)
        await rules.mark_conversions(self.uow, self.ctx, reports)
        deltas, self.deltas = self.deltas, Counter()
        self.uow.counters.stage({k: v for k, v in deltas.items() if v})
        rate_deltas, self.rate_deltas = self.rate_deltas, Counter()
        self.uow.rates.stage({k: v for k, v in rate_deltas.items() if v})


async def fold_batch(uow: AnalyticsUoW, ctx: Context, items: list[tuple[Envelope, Any]], *, generation: int | None = None,
                     ) -> None:
    """All of a batch's events, in order, with the same effect as one by one. With ``generation``, a
    consumer of another read-model generation than the current one writes nothing."""
    async with uow:
        if generation is not None and not await uow.meta.is_current(generation):
            return
        fold = Fold(uow, ctx)
        await fold.load(items)
        for env, p in items:
            topic = env.topic
            if topic in CASE_TOPICS:
                fold.apply_case(topic, p)
            elif topic in ORDER_TOPICS:
                fold.apply_order(topic, p)
            elif topic in MEDIATION_TOPICS:
                fold.apply_mediation(topic, p)
            elif topic in OTHER_HANDLERS:
                await fold.flush()  # these read and write the tables directly
                await OTHER_HANDLERS[topic](uow, ctx, env, p)
        await fold.finish()
        await uow.commit()


async def fold_one(uow: AnalyticsUoW, ctx: Context, env: Envelope, p: Any, *, generation: int | None = None) -> None:
    """One event (the consumer's slow path, message by message): a batch of one."""
    await fold_batch(uow, ctx, [(env, p)], generation=generation)
