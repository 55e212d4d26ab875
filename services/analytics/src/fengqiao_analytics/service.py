"""Use cases of analytics: fold events into the read models, run the weak-signal rules, triage signals,
rebuild. Each consumer handler runs inside the consumer's transaction (never commits); each API use case is
one transaction.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from fengqiao_common.auth import Principal
from fengqiao_common.errors import ApiError, conflict, not_found
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope, Outbox
from fengqiao_events.payloads.analytics import WeakSignalFlagged, WeakSignalTriaged
from fengqiao_events.payloads.common import Actor
from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters.orm import (
    READ_MODEL_TABLES,
    cases,
    counters,
    emitted,
    meta,
    orders,
    signal_history,
    signals,
    ticker,
)
from .config import Settings, WeakSignalThresholds
from .domain import readmodel as rm
from .domain import signals as ws

log = structlog.get_logger("fengqiao.analytics")

CASE_TOPICS = frozenset({
    "grid.event.reported", "case.regraded", "case.merged", "case.rated", "case.reopened", "case.queued",
    "case.resolved", "case.closed",
})
ORDER_TOPICS = frozenset({
    "order.dispatched", "order.signed", "department.checked-in", "order.progressed", "order.resolved",
    "order.returned", "order.verified", "order.reminded", "deadline.missed", "order.escalated",
})
MEDIATION_TOPICS = frozenset({
    "mediation.booked", "mediation.rescheduled", "mediation.cancelled", "session.sealed", "agreement.generated",
    "judicial.applied", "judicial.rejected", "mediation.confirmed", "mediation.failed", "mediation.referred",
})
TICKER_TOPICS = frozenset({
    "grid.event.reported", "order.escalated", "case.resolved", "case.closed", "case.reopened", "mediation.confirmed",
    "weak-signal.reported", "weak-signal.flagged",
})
TICKER_KEEP = 500


@dataclass
class Ctx:
    """What the use cases need besides the session."""

    settings: Settings
    jurisdiction: Jurisdiction
    outbox: Outbox
    generation: int | None = None  # the read-model generation a consumer writes for (None: API use cases)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def thresholds(self) -> WeakSignalThresholds:
        return self.settings.weak_signals

    def local_start(self, d: date) -> datetime:
        return datetime.combine(d, time.min, tzinfo=self.tz)

    def today(self) -> date:
        return datetime.now(self.tz).date()


def _aware(t: datetime | None) -> datetime | None:
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t


# --- counters ---------------------------------------------------------------------------------------------
def _counter_upsert():
    stmt = pg_insert(counters)
    return stmt.on_conflict_do_update(index_elements=["dim", "key"],
                                      set_={"value": counters.c.value + stmt.excluded.value})


_COUNTER_UPSERT = _counter_upsert()  # one cached statement, executemany (rows in key order)


def _counter_rows(deltas: dict[tuple[str, str], int]) -> list[dict]:
    return [{"dim": d, "key": k, "value": v} for (d, k), v in sorted(deltas.items()) if v]


async def add_to_counters(session: AsyncSession, deltas: dict[tuple[str, str], int]) -> None:
    """Apply counter deltas now (rows in key order)."""
    rows = _counter_rows(deltas)
    if rows:
        await session.execute(_COUNTER_UPSERT, rows)


_PENDING = "fq_analytics_counter_deltas"


def _flush_pending(sync_session) -> None:
    if sync_session.in_nested_transaction():
        return  # a savepoint is being released: wait for the real commit
    pending: Counter = sync_session.info.pop(_PENDING, None) or Counter()
    rows = _counter_rows(dict(pending))
    if rows:
        sync_session.execute(_COUNTER_UPSERT, rows)


class Deltas:
    """Counter deltas of one handler. They join the transaction's pending deltas only when the handler
    finishes (a failed handler's savepoint rolls back and its deltas are dropped), and all pending deltas
    are written in one statement just before the consumer's transaction commits."""

    def __init__(self, session: AsyncSession):
        self.session = session
        self.counter: Counter = Counter()

    def add(self, deltas: dict[tuple[str, str], int]) -> None:
        self.counter.update(deltas)

    def stage(self) -> None:
        if not self.counter:
            return
        info = self.session.sync_session.info
        if _PENDING not in info:
            info[_PENDING] = Counter()
            if not info.get("fq_analytics_hooked"):
                info["fq_analytics_hooked"] = True
                event.listen(self.session.sync_session, "before_commit", _flush_pending)
        info[_PENDING].update(self.counter)
        self.counter = Counter()


# --- the batch fold: cases, orders, mediation ---------------------------------------------------------------
def _case_relevant(o: dict) -> tuple:
    """The part of an order that a case's aggregates depend on."""
    return (o.get("dispatched"), o.get("status") == "returned",
            bool(o.get("missed_stages")) and o.get("status") in rm.ORDER_OPEN)


def _update_many(table, key: str):
    """UPDATE of every non-key column of one row, for executemany (one round trip for many rows)."""
    return (update(table).where(table.c[key] == bindparam(f"k_{key}"))
            .values({c.name: bindparam(c.name, type_=c.type) for c in table.c if c.name != key}))


def _lock_many(table, key: str):
    """INSERT .. ON CONFLICT DO UPDATE (a no-op that takes the row lock) RETURNING the row, for executemany."""
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(index_elements=[key], set_={key: stmt.excluded[key]}).returning(*table.c)


_LOCK = {cases.name: _lock_many(cases, "case_id"), orders.name: _lock_many(orders, "order_id")}
_ORDERS_OF_CASES = (select(orders.c.order_id, orders.c.case_id, orders.c.department, orders.c.dispatched,
                           orders.c.status, orders.c.missed_stages)
                    .where(orders.c.case_id.in_(bindparam("ids", expanding=True))))
_CASE_COUNTED = frozenset({"order.returned", "order.escalated"})  # order events that count on their case
_CASE_UPDATE = _update_many(cases, "case_id")
_ORDER_UPDATE = _update_many(orders, "order_id")


async def _insert_ticker(session: AsyncSession, rows: list[dict]) -> None:
    if not rows:
        return
    ids = (await session.execute(_TICKER_INSERT, rows)).scalars().all()
    lo, hi = min(ids), max(ids)
    if hi // 100 != (lo - 1) // 100:  # crossed a multiple of 100: trim to the newest TICKER_KEEP
        await session.execute(ticker.delete().where(ticker.c.id <= hi - TICKER_KEEP))


_TICKER_INSERT = insert(ticker).returning(ticker.c.id)


def _ticker_row(topic: str, at: datetime | None, *, case_no=None, grid=None, category=None, grade=None,
                department=None) -> dict:
    return {"at": at, "topic": topic, "case_no": case_no, "grid": grid, "category": category, "grade": grade,
            "department": department}


async def _ticker(session: AsyncSession, topic: str, at: datetime, **fields) -> None:
    await _insert_ticker(session, [_ticker_row(topic, at, **fields)])


class Fold:
    """Folds a batch of case, order and mediation events into the read models with a constant number of
    statements: the rows are locked and loaded once, the events applied in memory in their order (exactly
    as one by one), then written back with executemany, and the rules run once per batch over the final
    state (set-based). Counter deltas are the difference between each row's contributions as loaded and
    as written, so they telescope to the same sums as per-event deltas."""

    def __init__(self, ctx: Ctx, session: AsyncSession):
        self.ctx, self.session = ctx, session
        self.deltas = Deltas(session)
        self.cases: dict[str, dict] = {}
        self.case_base: dict[str, dict] = {}  # as last written
        self.orders: dict[str, dict] = {}
        self.order_base: dict[str, dict] = {}
        self.case_orders: dict[str, set[str]] = {}  # case id -> its order ids (for the case aggregates)
        self.order_rows: dict[str, dict] = {}  # orders of those cases that this batch does not touch
        self.tick: list[dict] = []
        self.rule_cases: set[str] = set()
        self.reports: dict[str, dict] = {}  # case id -> the case as its report left it (window rules)

    # loading ------------------------------------------------------------------------------------------
    async def _lock(self, table, rows: list[dict]) -> list[dict]:
        """Insert-or-lock rows (in key order: concurrent batches lock in the same order) and return them
        as stored; one cached statement, executemany with RETURNING."""
        res = await self.session.execute(_LOCK[table.name], rows)
        return [dict(r) for r in res.mappings()]

    async def load(self, items: list[tuple[Envelope, Any]]) -> None:
        first: dict[str, tuple[str, str]] = {}
        for env, p in items:
            if env.topic in ORDER_TOPICS:
                first.setdefault(p.order_id, (p.case_id, p.department))
        if first:
            rows = [{"order_id": o, "case_id": c, "department": d} for o, (c, d) in sorted(first.items())]
            for r in await self._lock(orders, rows):
                self.orders[r["order_id"]] = self.order_base[r["order_id"]] = r
            of_cases = sorted({c for c, _ in first.values()})
            for r in (await self.session.execute(_ORDERS_OF_CASES, {"ids": of_cases})).mappings():
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
            for r in await self._lock(cases, [{"case_id": c} for c in sorted(need)]):
                self.cases[r["case_id"]] = self.case_base[r["case_id"]] = r

    # applying -----------------------------------------------------------------------------------------
    def apply_case(self, topic: str, p: Any) -> None:
        if topic == "grid.event.reported":
            p = p.model_copy(update={"reported_at": _aware(p.reported_at)})
        new = rm.apply_case_event(self.cases[p.case_id], topic, p)
        self.cases[p.case_id] = new
        self.rule_cases.add(p.case_id)
        if topic == "grid.event.reported":
            self.reports[p.case_id] = new
        if topic in TICKER_TOPICS:
            self.tick.append(_ticker_row(topic, _aware(getattr(p, "reported_at", None) or p.at),
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
            self.tick.append(_ticker_row(topic, _aware(p.at), case_no=o_new["case_no"], grid=o_new["grid"],
                                         category=o_new["category"], grade=o_new["grade"],
                                         department=o_new["department"]))

    def apply_mediation(self, topic: str, p: Any) -> None:
        self.deltas.add({("med", topic): 1, ("med_cat", f"{topic}|{p.category}"): 1})
        if topic == "mediation.booked" and p.mode == "home":
            self.deltas.add({("med", "home"): 1})
        if topic in TICKER_TOPICS:
            self.tick.append(_ticker_row(topic, _aware(p.at), category=p.category))

    # writing ------------------------------------------------------------------------------------------
    async def flush(self) -> None:
        """Write changed rows (executemany) and the ticker; other handlers may then read the tables."""
        tz = self.ctx.tz
        changed = [c for c, row in self.cases.items() if row is not self.case_base[c] and row != self.case_base[c]]
        if changed:
            await self.session.execute(_CASE_UPDATE, [{**self.cases[c], "k_case_id": c} for c in sorted(changed)])
            for c in changed:
                self.deltas.add(rm.diff(rm.case_contributions(self.case_base[c], tz),
                                        rm.case_contributions(self.cases[c], tz)))
        self.case_base.update(self.cases)
        changed = [o for o, row in self.orders.items() if row is not self.order_base[o] and row != self.order_base[o]]
        if changed:
            await self.session.execute(_ORDER_UPDATE,
                                       [{**self.orders[o], "k_order_id": o} for o in sorted(changed)])
            for o in changed:
                self.deltas.add(rm.diff(rm.order_contributions(self.order_base[o]),
                                        rm.order_contributions(self.orders[o])))
        self.order_base.update(self.orders)
        tick, self.tick = self.tick, []
        await _insert_ticker(self.session, tick)

    async def finish(self) -> None:
        await self.flush()
        for cid in sorted(self.rule_cases):
            await evaluate_case_rules(self.ctx, self.session, self.cases[cid])
        reports, self.rule_cases, self.reports = list(self.reports.values()), set(), {}
        await evaluate_report_rules(self.ctx, self.session, reports)
        await mark_conversions(self.ctx, self.session, reports)
        self.deltas.stage()


async def handle_batch(ctx: Ctx, session: AsyncSession, items: list[tuple[Envelope, Any]]) -> None:
    """All of a batch's events (the consumer's fast path), in order, with the same effect as one by one."""
    if not await is_current(ctx, session):
        return
    fold = Fold(ctx, session)
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
            await OTHER_HANDLERS[topic](ctx, session, env, p)
    await fold.finish()


async def handle_one(ctx: Ctx, session: AsyncSession, env: Envelope, p: Any) -> None:
    """One event (the consumer's slow path, message by message): a batch of one."""
    await handle_batch(ctx, session, [(env, p)])


async def is_current(ctx: Ctx, session: AsyncSession) -> bool:
    """Whether this consumer still writes for the current generation. Checked once per batch transaction
    with a share lock on the generation row, which a rebuild locks for update before truncating: a batch
    runs wholly before a rebuild or wholly after it, and a consumer of an old generation (another replica
    that has not switched yet) writes nothing."""
    if ctx.generation is None:
        return True
    info = session.sync_session.info
    if "fq_analytics_current" not in info:
        gen = (await session.execute(select(meta.c.generation).where(meta.c.id == 1).with_for_update(read=True))
               ).scalar_one()
        info["fq_analytics_current"] = gen == ctx.generation
    return info["fq_analytics_current"]


# --- weak signals -----------------------------------------------------------------------------------------
@dataclass
class RuleSignal:
    """One evaluation of a rule for one subject."""

    rule: str
    subject: str
    active: bool
    reasons: list[str]
    case_ids: list[str]
    first_at: datetime | None
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    people: int = 0


_DEACTIVATE = (update(signals).where(signals.c.signal_id == bindparam("k_signal_id")).values(
    active=False, reasons=bindparam("reasons", type_=signals.c.reasons.type),
    case_ids=bindparam("case_ids", type_=signals.c.case_ids.type),
    first_at=func.coalesce(bindparam("first_at", type_=signals.c.first_at.type), signals.c.first_at)))


def _signal_upsert():
    stmt = pg_insert(signals)
    ex = stmt.excluded
    return stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
        "source": "rule", "rule": ex.rule, "subject": ex.subject, "active": True, "reasons": ex.reasons,
        "case_ids": ex.case_ids, "people_involved": ex.people_involved,
        "grid": func.coalesce(ex.grid, signals.c.grid), "community": func.coalesce(ex.community, signals.c.community),
        "category": func.coalesce(ex.category, signals.c.category),
        "first_at": func.coalesce(ex.first_at, signals.c.first_at), "updated_at": func.now(),
    }).returning(signals.c.signal_id, text("(xmax = 0) AS inserted"))


_SIGNAL_UPSERT = _signal_upsert()  # cached; executemany with RETURNING
_EMIT = pg_insert(emitted).on_conflict_do_nothing().returning(emitted.c.signal_id)


async def sync_rule_signals(ctx: Ctx, session: AsyncSession, evaluations: list[RuleSignal]) -> None:
    """Write rule evaluations: active ones upsert their signal (one statement), inactive ones update an
    existing signal's figures (the row keeps the figures of the latest evaluation, so that its content
    depends only on the events seen, not on their order; a triaged signal stays listed even when its
    condition no longer holds). A signal raised for the first time is announced."""
    latest = {ws.signal_id(e.rule, e.subject): e for e in evaluations}  # one row may appear once per statement
    off = [{"k_signal_id": sid, "reasons": e.reasons, "case_ids": e.case_ids[:50], "first_at": e.first_at}
           for sid, e in sorted(latest.items()) if not e.active]
    if off:
        await session.execute(_DEACTIVATE, off)
    on = [(sid, e) for sid, e in sorted(latest.items()) if e.active]
    if not on:
        return
    rows = [{"signal_id": sid, "source": "rule", "rule": e.rule, "subject": e.subject, "grid": e.grid,
             "community": e.community, "category": e.category, "reasons": e.reasons, "case_ids": e.case_ids[:50],
             "people_involved": e.people, "active": True, "first_at": e.first_at} for sid, e in on]
    res = await session.execute(_SIGNAL_UPSERT, rows)
    new = sorted(r[0] for r in res if r[1])
    if new:
        await _announce(ctx, session, [latest[sid] for sid in new])


async def _announce(ctx: Ctx, session: AsyncSession, raised: list[RuleSignal]) -> None:
    """Emit weak-signal.flagged once per signal ever (a_emitted survives rebuilds)."""
    by_id = {ws.signal_id(e.rule, e.subject): e for e in raised}
    first = (await session.execute(_EMIT, [{"signal_id": sid} for sid in sorted(by_id)])).scalars().all()
    if not first:
        return
    at = datetime.now(UTC)
    payloads = [WeakSignalFlagged(signal_id=sid, rule=by_id[sid].rule, reasons=by_id[sid].reasons,
                                  grid=by_id[sid].grid, community=by_id[sid].community,
                                  category=by_id[sid].category, at=at) for sid in sorted(first)]
    await ctx.outbox.add(session, *payloads)
    await _insert_ticker(session, [_ticker_row("weak-signal.flagged", at, grid=p.grid, category=p.category)
                                   for p in payloads])


def _names(ctx: Ctx, c: dict) -> tuple[str, str, str]:
    g = ctx.jurisdiction.grid(c.get("grid") or "")
    cm = ctx.jurisdiction.community(c.get("community") or "")
    d = ctx.jurisdiction.domain(c.get("category") or "")
    return (g.name if g else (c.get("grid") or "-"), cm.name if cm else (c.get("community") or "-"),
            d.name if d else (c.get("category") or "-"))


async def evaluate_case_rules(ctx: Ctx, session: AsyncSession, c: dict) -> None:
    """Rules whose subject is one case: returns/reopenings, escalations, many people involved. Their counts
    only grow, so an inactive rule needs no write (and the final state of a batch decides)."""
    t = ctx.thresholds
    common = dict(case_ids=[c["case_id"]], first_at=c.get("reported_at"), grid=c.get("grid"),
                  community=c.get("community"), category=c.get("category"))
    no = c.get("case_no") or c["case_id"]
    out: list[RuleSignal] = []
    n = c["return_count"] + c["reopen_count"]
    if n >= t.return_reopen_count:
        out.append(RuleSignal("return_reopen", c["case_id"], True, [
            f"案件 {no} 退单 {c['return_count']} 次、重新打开 {c['reopen_count']} 次（阈值 {t.return_reopen_count}） / "
            f"case {no} returned {c['return_count']}x, reopened {c['reopen_count']}x (threshold {t.return_reopen_count})"
        ], **common))
    if c["escalation_count"] >= t.escalation_count:
        out.append(RuleSignal("escalation", c["case_id"], True, [
            f"案件 {no} 被督办 {c['escalation_count']} 次 / case {no} escalated {c['escalation_count']}x"
        ], **common))
    if c.get("reported") and c["people_involved"] >= t.people_count:
        out.append(RuleSignal("many_people", c["case_id"], True, [
            f"案件 {no} 涉及 {c['people_involved']} 人（阈值 {t.people_count}） / "
            f"case {no} involves {c['people_involved']} people (threshold {t.people_count})"
        ], people=c["people_involved"], **common))
    if out:
        await sync_rule_signals(ctx, session, out)


async def _window_counts(session: AsyncSession, match: list[str], keys: list[tuple], extra: str = "",
                         ) -> dict[tuple, tuple[int, list[str], datetime | None]]:
    """Reported cases per key in one statement. Each key is ``(*values, start, end)``: the values are
    matched against the case columns named in ``match``, ``reported_at`` against ``[start, end)``. Returns
    key -> (count, sorted case ids, earliest report) for keys with at least one case."""
    if not keys:
        return {}
    n = len(match)
    cols = ", ".join(f"v{i}" for i in range(n))
    arrays = ", ".join([*(f"CAST(:v{i} AS text[])" for i in range(n)),
                        "CAST(:s AS timestamptz[])", "CAST(:e AS timestamptz[])"])
    on = " AND ".join([*(f"c.{m} = k.v{i}" for i, m in enumerate(match)), "c.reported_at >= k.s",
                       "c.reported_at < k.e", "c.reported", *([extra] if extra else [])])
    sql = text(f"SELECT k.i, count(*), array_agg(c.case_id), min(c.reported_at) "
               f"FROM unnest({arrays}) WITH ORDINALITY AS k({cols}, s, e, i) "
               f"JOIN a_cases c ON {on} GROUP BY k.i")
    params = {f"v{i}": [k[i] for k in keys] for i in range(n)}
    params |= {"s": [k[n] for k in keys], "e": [k[n + 1] for k in keys]}
    out = {}
    for i, count, ids, first in (await session.execute(sql, params)).all():
        out[keys[i - 1]] = (int(count), sorted(ids or []), first)
    return out


async def evaluate_report_rules(ctx: Ctx, session: AsyncSession, reports: list[dict]) -> None:
    """Window rules over tumbling windows, evaluated for the cases whose report arrived (once per distinct
    window of a batch, each rule in one statement)."""
    if not reports:
        return
    t, ls = ctx.thresholds, ctx.local_start
    out: list[RuleSignal] = []
    repeat, requester, trend, wage = {}, {}, {}, {}
    for c in reports:
        day = c["reported_at"].astimezone(ctx.tz).date()
        if c.get("grid") and c.get("category"):
            idx, start, end = ws.window(day, t.repeat_days)
            repeat[(c["grid"], c["category"], ls(start), ls(end))] = (idx, start, end, c)
        if c.get("requester_ref"):
            idx, start, end = ws.window(day, t.requester_days)
            requester[(c["requester_ref"], ls(start), ls(end))] = (idx, start, end)
        if c.get("community"):
            idx, _, _ = ws.window(day, t.trend_days)
            for w in (idx, idx + 1):  # this case counts in window idx and as the baseline of idx + 1
                trend[(c["community"], w)] = c
        if c.get("wage_arrears") and c.get("community"):
            holiday = ws.next_holiday(day, t.wage_days)
            if holiday is not None:
                s = holiday - timedelta(days=t.wage_days)
                wage[(c["community"], ls(s), ls(holiday))] = (holiday, c)

    counts = await _window_counts(session, ["grid", "category"], sorted(repeat))
    for key, (idx, start, end, c) in sorted(repeat.items()):
        n, ids, first = counts.get(key, (0, [], None))
        if n >= t.repeat_count:
            grid_name, _, dom_name = _names(ctx, c)
            out.append(RuleSignal(
                "repeat_domain_grid", f"{c['grid']}|{c['category']}|{idx}", True,
                [f"{grid_name}「{dom_name}」{start}~{end - timedelta(days=1)} 共 {n} 件（阈值 {t.repeat_count}） / "
                 f"{n} {c['category']} cases in grid {c['grid']} {start}..{end - timedelta(days=1)} "
                 f"(threshold {t.repeat_count})"],
                ids, first, grid=c["grid"], community=c.get("community"), category=c["category"]))

    counts = await _window_counts(session, ["requester_ref"], sorted(requester))
    for key, (idx, start, end) in sorted(requester.items()):
        n, ids, first = counts.get(key, (0, [], None))
        if n >= t.requester_count:
            out.append(RuleSignal(  # one requester's cases span grids and domains
                "repeat_requester", f"{key[0]}|{idx}", True,
                [f"同一诉求人 {start}~{end - timedelta(days=1)} 提出 {n} 件（阈值 {t.requester_count}） / "
                 f"one requester raised {n} cases {start}..{end - timedelta(days=1)} "
                 f"(threshold {t.requester_count})"], ids, first))

    windows = {(comm, k): ws.window_by_index(k, t.trend_days) for comm, w in trend for k in (w - 1, w)}
    wkeys = {(comm, k): (comm, ls(s), ls(e)) for (comm, k), (s, e) in windows.items()}
    counts = await _window_counts(session, ["community"], sorted(set(wkeys.values())))
    for (comm, w), c in sorted(trend.items()):
        cur, ids, first = counts.get(wkeys[(comm, w)], (0, [], None))
        prev = counts.get(wkeys[(comm, w - 1)], (0, [], None))[0]
        if cur < t.trend_min:
            continue  # counts only grow: below the minimum it has never been active
        s, e = windows[(comm, w)]
        comm_name = _names(ctx, c)[1]
        out.append(RuleSignal(
            "rising_trend", f"{comm}|{w}", ws.rising(cur, prev, t.trend_ratio, t.trend_min),
            [f"{comm_name} {s}~{e - timedelta(days=1)} 共 {cur} 件，上一周期 {prev} 件 / "
             f"{cur} cases in community {comm} {s}..{e - timedelta(days=1)}, {prev} before"],
            ids, first, community=comm))

    counts = await _window_counts(session, ["community"], sorted(wage), extra="c.wage_arrears")
    for key, (holiday, c) in sorted(wage.items()):
        n, ids, first = counts.get(key, (0, [], None))
        if n >= t.wage_count:
            comm_name = _names(ctx, c)[1]
            out.append(RuleSignal(
                "wage_arrears_holiday", f"{c['community']}|{holiday}", True,
                [f"{comm_name} 节前（{holiday} {ws.holiday_name(holiday)}）欠薪反映 {n} 件（阈值 {t.wage_count}） / "
                 f"{n} wage-arrears reports in community {c['community']} before the holiday on {holiday}"],
                ids, first, community=c["community"], category="labour"))
    await sync_rule_signals(ctx, session, out)


_CONVERSIONS = text("""
UPDATE a_signals s SET became_case_id = b.cid, became_case_at = b.t
FROM (
    SELECT DISTINCT ON (s2.signal_id) s2.signal_id, k.cid, k.t
    FROM unnest(CAST(:grid AS text[]), CAST(:cat AS text[]), CAST(:t AS timestamptz[]), CAST(:cid AS text[]))
         AS k(grid, cat, t, cid)
    JOIN a_signals s2 ON s2.source = 'report' AND s2.grid = k.grid AND s2.category = k.cat
         AND s2.first_at < k.t AND s2.first_at >= k.t - CAST(:conv AS interval)
    ORDER BY s2.signal_id, k.t, k.cid
) b
WHERE s.signal_id = b.signal_id
  AND (s.became_case_at IS NULL OR s.became_case_at > b.t OR (s.became_case_at = b.t AND s.became_case_id > b.cid))
""")


async def mark_conversions(ctx: Ctx, session: AsyncSession, reports: list[dict]) -> None:
    """A grid worker's weak-signal report 'became a case' when a case of the same domain in the same grid
    follows within conversion_days; the earliest such case is recorded (order-independent). One statement
    for all of a batch's reports."""
    rows = sorted((c["grid"], c["category"], c["reported_at"], c["case_id"]) for c in reports
                  if c.get("grid") and c.get("category"))
    if not rows:
        return
    await session.execute(_CONVERSIONS, {
        "grid": [r[0] for r in rows], "cat": [r[1] for r in rows], "t": [r[2] for r in rows],
        "cid": [r[3] for r in rows], "conv": timedelta(days=ctx.thresholds.conversion_days)})


async def handle_weak_signal_report(ctx: Ctx, session: AsyncSession, env: Envelope, p: Any) -> None:
    at = _aware(p.reported_at)
    grid_name, _comm_name, dom_name = _names(ctx, {"grid": p.grid, "community": p.community, "category": p.category})
    reasons = [f"网格员上报：{grid_name}「{dom_name}」早期迹象 / grid worker reported an early sign ({p.category})"]
    if p.people_involved >= ctx.thresholds.people_count:
        reasons.append(f"涉及 {p.people_involved} 人 / {p.people_involved} people involved")
    stmt = pg_insert(signals).values(
        signal_id=p.signal_id, source="report", rule="grid_report", subject=p.signal_id, grid=p.grid,
        community=p.community, category=p.category, reasons=reasons, summary=p.summary,
        people_involved=p.people_involved, active=True, first_at=at,
    )
    ex = stmt.excluded
    await session.execute(stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
        "source": "report", "rule": "grid_report", "subject": ex.subject, "grid": ex.grid,
        "community": ex.community, "category": ex.category, "reasons": ex.reasons, "summary": ex.summary,
        "people_involved": ex.people_involved, "active": True, "first_at": ex.first_at, "updated_at": func.now(),
    }))
    if p.grid:
        conv = timedelta(days=ctx.thresholds.conversion_days)
        row = (await session.execute(
            select(cases.c.case_id, cases.c.reported_at)
            .where(cases.c.reported, cases.c.grid == p.grid, cases.c.category == p.category,
                   cases.c.reported_at > at, cases.c.reported_at <= at + conv)
            .order_by(cases.c.reported_at, cases.c.case_id).limit(1)
        )).first()
        if row is not None:
            await session.execute(update(signals).where(signals.c.signal_id == p.signal_id)
                                  .values(became_case_id=row.case_id, became_case_at=row.reported_at))
    await _ticker(session, "weak-signal.reported", at, grid=p.grid, category=p.category)


async def apply_triage(session: AsyncSession, event_id: str, p: WeakSignalTriaged) -> bool:
    """Record a status change once (keyed by its event id) and set the signal's status to that of its
    latest history entry, so API writes and replays agree in any order. Returns False for a duplicate."""
    by = p.by
    first = (await session.execute(
        pg_insert(signal_history).values(
            event_id=event_id, signal_id=p.signal_id, at=_aware(p.at), from_status=p.previous_status,
            to_status=p.status, assignee=p.assignee, note=p.note, by_id=by.id if by else None,
            by_role=by.role if by else None,
        ).on_conflict_do_nothing().returning(signal_history.c.event_id)
    )).first()
    if first is None:
        return False
    latest = (await session.execute(
        select(signal_history.c.to_status, signal_history.c.assignee)
        .where(signal_history.c.signal_id == p.signal_id)
        .order_by(signal_history.c.at.desc(), signal_history.c.event_id.desc()).limit(1)
    )).one()
    stmt = pg_insert(signals).values(signal_id=p.signal_id, source="pending", status=latest.to_status,
                                     assignee=latest.assignee)
    await session.execute(stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
        "status": latest.to_status, "assignee": latest.assignee, "updated_at": func.now()}))
    return True


async def handle_triaged(ctx: Ctx, session: AsyncSession, env: Envelope, p: WeakSignalTriaged) -> None:
    await apply_triage(session, env.id, p)


# Events handled one by one against the tables (rare; not folded in memory). Any other topic is ignored,
# e.g. weak-signal.flagged, our own announcement (the ledger row was written when the signal was raised).
OTHER_HANDLERS = {
    "weak-signal.reported": handle_weak_signal_report,
    "weak-signal.triaged": handle_triaged,
}


async def change_signal_status(ctx: Ctx, session: AsyncSession, signal_id: str, status: str,
                               assignee: str | None, note: str | None, principal: Principal) -> dict:
    """API use case (one transaction): check the transition, write history + status + outbox event."""
    async with session.begin():
        row = (await session.execute(
            select(signals).where(signals.c.signal_id == signal_id).with_for_update()
        )).mappings().first()
        if row is None or row["source"] == "pending":
            raise not_found("weak signal", "弱信号")
        if not ws.can_transition(row["status"], status):
            raise conflict("invalid_transition", f"弱信号状态不能从 {row['status']} 变为 {status}",
                           f"a weak signal cannot go from {row['status']} to {status}",
                           current={"status": row["status"], "assignee": row["assignee"]},
                           allowed=sorted(ws.TRANSITIONS.get(row["status"], ())))
        if status == "assigned" and not (assignee or row["assignee"]):
            raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[{
                "field": "assignee", "loc": ["body", "assignee"], "code": "missing",
                "message_zh": "指派时必须填写负责部门或人员", "message_en": "assignee is required to assign"}])
        actor = principal.actor() | {"name": None}  # events carry no personal names
        payload = WeakSignalTriaged(
            signal_id=signal_id, status=status, previous_status=row["status"],
            assignee=assignee or row["assignee"], note=note, by=Actor(**actor), at=datetime.now(UTC),
        )
        env = (await ctx.outbox.add(session, payload))[0]
        await apply_triage(session, env.id, payload)
    return await get_signal(session, signal_id)


async def get_signal(session: AsyncSession, signal_id: str) -> dict:
    row = (await session.execute(select(signals).where(signals.c.signal_id == signal_id))).mappings().first()
    if row is None or row["source"] == "pending":
        raise not_found("weak signal", "弱信号")
    hist = (await session.execute(
        select(signal_history).where(signal_history.c.signal_id == signal_id)
        .order_by(signal_history.c.at, signal_history.c.event_id)
    )).mappings().all()
    return {**dict(row), "history": [dict(h) for h in hist]}


# --- rebuild ----------------------------------------------------------------------------------------------
async def current_generation(session: AsyncSession) -> int:
    return int((await session.execute(select(meta.c.generation).where(meta.c.id == 1))).scalar_one())


def group_name(settings: Settings, generation: int) -> str:
    return f"{settings.consumer_group}-g{generation}"


async def reset_read_models(ctx: Ctx, session: AsyncSession, attempts: int = 5) -> int:
    """Empty every read model and move to a new generation (a new consumer group that reads all topics from
    the beginning). One transaction; returns the new generation. The generation row is locked first, as
    consumer batches do; a deadlock with a concurrent reader is retried."""
    for attempt in range(1, attempts + 1):
        try:
            async with session.begin():
                gen = int((await session.execute(
                    select(meta.c.generation).where(meta.c.id == 1).with_for_update()
                )).scalar_one())
                await session.execute(text(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}"))
                await session.execute(text("DELETE FROM processed_events WHERE consumer = :c"),
                                      {"c": group_name(ctx.settings, gen)})
                await session.execute(update(meta).where(meta.c.id == 1)
                                      .values(generation=gen + 1, rebuilt_at=func.now()))
            break
        except DBAPIError as exc:
            if "deadlock" not in str(exc).lower() or attempt == attempts:
                raise
            log.warning("rebuild deadlocked with a reader; retrying", attempt=attempt)
            await asyncio.sleep(0.2 * attempt)
    log.info("read models reset", generation=gen + 1)
    return gen + 1


async def rebuild_status(ctx: Ctx, session: AsyncSession) -> dict:
    gen = await current_generation(session)
    group = group_name(ctx.settings, gen)
    processed = (await session.execute(
        text("SELECT count(*) FROM processed_events WHERE consumer = :c"), {"c": group}
    )).scalar_one()
    rebuilt_at = (await session.execute(select(meta.c.rebuilt_at).where(meta.c.id == 1))).scalar_one()
    return {"generation": gen, "consumer_group": group, "processed_events": int(processed), "rebuilt_at": rebuilt_at}
