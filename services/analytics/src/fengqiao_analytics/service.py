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
from sqlalchemy import and_, event, func, select, text, update
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
def _upsert_counters(deltas: dict[tuple[str, str], int]):
    rows = [{"dim": d, "key": k, "value": v} for (d, k), v in sorted(deltas.items()) if v]
    if not rows:
        return None
    stmt = pg_insert(counters).values(rows)
    return stmt.on_conflict_do_update(index_elements=["dim", "key"],
                                      set_={"value": counters.c.value + stmt.excluded.value})


async def add_to_counters(session: AsyncSession, deltas: dict[tuple[str, str], int]) -> None:
    """Apply counter deltas now (one statement, rows in key order)."""
    stmt = _upsert_counters(deltas)
    if stmt is not None:
        await session.execute(stmt)


_PENDING = "fq_analytics_counter_deltas"


def _flush_pending(sync_session) -> None:
    if sync_session.in_nested_transaction():
        return  # a savepoint is being released: wait for the real commit
    pending: Counter = sync_session.info.pop(_PENDING, None) or Counter()
    stmt = _upsert_counters(dict(pending))
    if stmt is not None:
        sync_session.execute(stmt)


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


# --- cases and orders -------------------------------------------------------------------------------------
async def _lock_case(session: AsyncSession, case_id: str) -> dict:
    stmt = pg_insert(cases).values(case_id=case_id)
    stmt = stmt.on_conflict_do_update(index_elements=["case_id"], set_={"case_id": stmt.excluded.case_id})
    row = (await session.execute(stmt.returning(*cases.c))).mappings().one()
    return dict(row)


async def _lock_order(session: AsyncSession, order_id: str, case_id: str, department: str) -> dict:
    stmt = pg_insert(orders).values(order_id=order_id, case_id=case_id, department=department)
    stmt = stmt.on_conflict_do_update(index_elements=["order_id"], set_={"order_id": stmt.excluded.order_id})
    row = (await session.execute(stmt.returning(*orders.c))).mappings().one()
    return dict(row)


def _changed(old: dict, new: dict, columns) -> dict:
    return {c.name: new[c.name] for c in columns if c.name in new and new[c.name] != old.get(c.name)}


async def _save_case(ctx: Ctx, session: AsyncSession, old: dict, new: dict, deltas: Deltas) -> None:
    values = _changed(old, new, cases.c)
    if values:
        await session.execute(update(cases).where(cases.c.case_id == old["case_id"]).values(**values))
    deltas.add(rm.diff(rm.case_contributions(old, ctx.tz), rm.case_contributions(new, ctx.tz)))


async def _save_order(session: AsyncSession, old: dict, new: dict, deltas: Deltas) -> None:
    values = _changed(old, new, orders.c)
    if values:
        await session.execute(update(orders).where(orders.c.order_id == old["order_id"]).values(**values))
    deltas.add(rm.diff(rm.order_contributions(old), rm.order_contributions(new)))


async def _ticker(session: AsyncSession, topic: str, at: datetime, *, case_no=None, grid=None, category=None,
                  grade=None, department=None) -> None:
    new_id = (await session.execute(
        pg_insert(ticker).values(at=at, topic=topic, case_no=case_no, grid=grid, category=category, grade=grade,
                                 department=department).returning(ticker.c.id)
    )).scalar_one()
    if new_id % 100 == 0:
        await session.execute(ticker.delete().where(ticker.c.id <= new_id - TICKER_KEEP))


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


async def handle_case_event(ctx: Ctx, session: AsyncSession, env: Envelope, p: Any) -> None:
    topic = env.topic
    deltas = Deltas(session)
    old = await _lock_case(session, p.case_id)
    if topic == "grid.event.reported":
        p = p.model_copy(update={"reported_at": _aware(p.reported_at)})
    new = rm.apply_case_event(old, topic, p)
    await _save_case(ctx, session, old, new, deltas)
    await evaluate_case_rules(ctx, session, new)
    if topic == "grid.event.reported":
        await evaluate_report_rules(ctx, session, new)
        await mark_conversions(ctx, session, new)
    if topic in TICKER_TOPICS:
        await _ticker(session, topic, _aware(getattr(p, "reported_at", None) or p.at), case_no=new["case_no"],
                      grid=new["grid"], category=new["category"], grade=new["grade"])
    deltas.stage()


def _case_relevant(o: dict) -> tuple:
    """The part of an order that a case's aggregates depend on."""
    return (o.get("dispatched"), o.get("status") == "returned",
            bool(o.get("missed_stages")) and o.get("status") in rm.ORDER_OPEN)


async def handle_order_event(ctx: Ctx, session: AsyncSession, env: Envelope, p: Any) -> None:
    topic = env.topic
    deltas = Deltas(session)
    o_old = await _lock_order(session, p.order_id, p.case_id, p.department)
    o_new = rm.apply_order_event(o_old, topic, p)
    await _save_order(session, o_old, o_new, deltas)
    case_new = None
    if topic in ("order.returned", "order.escalated") or _case_relevant(o_old) != _case_relevant(o_new):
        case_old = await _lock_case(session, p.case_id)
        rows = (await session.execute(
            select(orders.c.department, orders.c.dispatched, orders.c.status, orders.c.missed_stages)
            .where(orders.c.case_id == p.case_id)
        )).mappings().all()
        depts, overdue = rm.case_aggregates_from_orders([dict(r) for r in rows])
        case_new = rm.apply_case_event(case_old, topic, p)
        case_new.update(departments=depts, overdue_orders=overdue)
        case_new["status"] = rm.case_status(case_new)
        await _save_case(ctx, session, case_old, case_new, deltas)
        if topic in ("order.returned", "order.escalated"):
            await evaluate_case_rules(ctx, session, case_new)
    if topic in TICKER_TOPICS:
        await _ticker(session, topic, _aware(p.at), case_no=o_new["case_no"], grid=o_new["grid"],
                      category=o_new["category"], grade=o_new["grade"], department=o_new["department"])
    deltas.stage()


async def handle_mediation_event(ctx: Ctx, session: AsyncSession, env: Envelope, p: Any) -> None:
    topic = env.topic
    deltas = Deltas(session)
    deltas.add({("med", topic): 1, ("med_cat", f"{topic}|{p.category}"): 1})
    if topic == "mediation.booked" and p.mode == "home":
        deltas.add({("med", "home"): 1})
    if topic in TICKER_TOPICS:
        await _ticker(session, topic, _aware(p.at), category=p.category)
    deltas.stage()


# --- weak signals -----------------------------------------------------------------------------------------
async def sync_rule_signal(ctx: Ctx, session: AsyncSession, *, rule: str, subject: str, active: bool,
                           reasons: list[str], case_ids: list[str], first_at: datetime | None,
                           grid: str | None = None, community: str | None = None,
                           category: str | None = None, people: int = 0) -> None:
    sid = ws.signal_id(rule, subject)
    if not active:
        # the row keeps the figures of the latest evaluation, so that its content depends only on the events
        # seen, not on their order (a triaged signal stays listed even when its condition no longer holds)
        await session.execute(update(signals).where(signals.c.signal_id == sid).values(
            active=False, reasons=reasons, case_ids=case_ids[:50],
            first_at=func.coalesce(first_at, signals.c.first_at)))
        return
    stmt = pg_insert(signals).values(
        signal_id=sid, source="rule", rule=rule, subject=subject, grid=grid, community=community,
        category=category, reasons=reasons, case_ids=case_ids[:50], people_involved=people, active=True,
        first_at=first_at,
    )
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
        "source": "rule", "rule": rule, "subject": subject, "active": True, "reasons": ex.reasons,
        "case_ids": ex.case_ids, "people_involved": ex.people_involved,
        "grid": func.coalesce(ex.grid, signals.c.grid), "community": func.coalesce(ex.community, signals.c.community),
        "category": func.coalesce(ex.category, signals.c.category),
        "first_at": func.coalesce(ex.first_at, signals.c.first_at), "updated_at": func.now(),
    })
    inserted = (await session.execute(stmt.returning(text("(xmax = 0) AS inserted")))).scalar_one()
    if inserted:
        await _announce(ctx, session, sid, rule, reasons, grid, community, category)


async def _announce(ctx: Ctx, session: AsyncSession, sid: str, rule: str, reasons: list[str], grid, community,
                    category) -> None:
    """Emit weak-signal.flagged once per signal ever (a_emitted survives rebuilds)."""
    first = (await session.execute(
        pg_insert(emitted).values(signal_id=sid).on_conflict_do_nothing().returning(emitted.c.signal_id)
    )).first()
    if first is None:
        return
    at = datetime.now(UTC)
    await ctx.outbox.add(session, WeakSignalFlagged(signal_id=sid, rule=rule, reasons=reasons, grid=grid,
                                                    community=community, category=category, at=at))
    await _ticker(session, "weak-signal.flagged", at, grid=grid, category=category)


def _names(ctx: Ctx, c: dict) -> tuple[str, str, str]:
    g = ctx.jurisdiction.grid(c.get("grid") or "")
    cm = ctx.jurisdiction.community(c.get("community") or "")
    d = ctx.jurisdiction.domain(c.get("category") or "")
    return (g.name if g else (c.get("grid") or "-"), cm.name if cm else (c.get("community") or "-"),
            d.name if d else (c.get("category") or "-"))


async def evaluate_case_rules(ctx: Ctx, session: AsyncSession, c: dict) -> None:
    """Rules whose subject is one case: returns/reopenings, escalations, many people involved. Their counts
    only grow, so an inactive rule needs no write."""
    t = ctx.thresholds
    common = dict(case_ids=[c["case_id"]], first_at=c.get("reported_at"), grid=c.get("grid"),
                  community=c.get("community"), category=c.get("category"))
    no = c.get("case_no") or c["case_id"]
    n = c["return_count"] + c["reopen_count"]
    if n >= t.return_reopen_count:
        await sync_rule_signal(ctx, session, rule="return_reopen", subject=c["case_id"], active=True, reasons=[
            f"案件 {no} 退单 {c['return_count']} 次、重新打开 {c['reopen_count']} 次（阈值 {t.return_reopen_count}） / "
            f"case {no} returned {c['return_count']}x, reopened {c['reopen_count']}x (threshold {t.return_reopen_count})"
        ], **common)
    if c["escalation_count"] >= t.escalation_count:
        await sync_rule_signal(ctx, session, rule="escalation", subject=c["case_id"], active=True, reasons=[
            f"案件 {no} 被督办 {c['escalation_count']} 次 / case {no} escalated {c['escalation_count']}x"
        ], **common)
    if c.get("reported") and c["people_involved"] >= t.people_count:
        await sync_rule_signal(ctx, session, rule="many_people", subject=c["case_id"], active=True, reasons=[
            f"案件 {no} 涉及 {c['people_involved']} 人（阈值 {t.people_count}） / "
            f"case {no} involves {c['people_involved']} people (threshold {t.people_count})"
        ], people=c["people_involved"], **common)


async def _count_cases(session: AsyncSession, *conds) -> tuple[int, list[str], datetime | None]:
    row = (await session.execute(
        select(func.count(), func.array_agg(cases.c.case_id), func.min(cases.c.reported_at))
        .where(cases.c.reported, *conds)
    )).one()
    return int(row[0]), sorted(row[1] or []), row[2]


async def evaluate_report_rules(ctx: Ctx, session: AsyncSession, c: dict) -> None:
    """Window rules, evaluated when a case's report arrives (counts over tumbling windows)."""
    t = ctx.thresholds
    day = c["reported_at"].astimezone(ctx.tz).date()
    grid_name, comm_name, dom_name = _names(ctx, c)
    if c.get("grid") and c.get("category"):
        idx, start, end = ws.window(day, t.repeat_days)
        n, ids, first = await _count_cases(
            session, cases.c.grid == c["grid"], cases.c.category == c["category"],
            cases.c.reported_at >= ctx.local_start(start), cases.c.reported_at < ctx.local_start(end))
        if n >= t.repeat_count:
            await sync_rule_signal(
                ctx, session, rule="repeat_domain_grid", subject=f"{c['grid']}|{c['category']}|{idx}", active=True,
                reasons=[f"{grid_name}「{dom_name}」{start}~{end - timedelta(days=1)} 共 {n} 件（阈值 {t.repeat_count}） / "
                         f"{n} {c['category']} cases in grid {c['grid']} {start}..{end - timedelta(days=1)} "
                         f"(threshold {t.repeat_count})"],
                case_ids=ids, first_at=first, grid=c["grid"], community=c.get("community"), category=c["category"])
    if c.get("requester_ref"):
        idx, start, end = ws.window(day, t.requester_days)
        n, ids, first = await _count_cases(
            session, cases.c.requester_ref == c["requester_ref"],
            cases.c.reported_at >= ctx.local_start(start), cases.c.reported_at < ctx.local_start(end))
        if n >= t.requester_count:
            await sync_rule_signal(
                ctx, session, rule="repeat_requester", subject=f"{c['requester_ref']}|{idx}", active=True,
                reasons=[f"同一诉求人 {start}~{end - timedelta(days=1)} 提出 {n} 件（阈值 {t.requester_count}） / "
                         f"one requester raised {n} cases {start}..{end - timedelta(days=1)} "
                         f"(threshold {t.requester_count})"],
                case_ids=ids, first_at=first)  # one requester's cases span grids and domains
    if c.get("community"):
        idx, _, _ = ws.window(day, t.trend_days)
        bounds = {k: ws.window_by_index(k, t.trend_days) for k in (idx - 1, idx, idx + 1)}
        at = cases.c.reported_at

        def inside(k):
            s, e = bounds[k]
            return and_(at >= ctx.local_start(s), at < ctx.local_start(e))

        row = (await session.execute(
            select(*[func.count().filter(inside(k)) for k in (idx - 1, idx, idx + 1)],
                   *[func.array_agg(cases.c.case_id).filter(inside(k)) for k in (idx, idx + 1)],
                   *[func.min(at).filter(inside(k)) for k in (idx, idx + 1)])
            .where(cases.c.reported, cases.c.community == c["community"],
                   at >= ctx.local_start(bounds[idx - 1][0]), at < ctx.local_start(bounds[idx + 1][1]))
        )).one()
        n = {idx - 1: row[0], idx: row[1], idx + 1: row[2]}
        ids = {idx: row[3] or [], idx + 1: row[4] or []}
        first = {idx: row[5], idx + 1: row[6]}
        for w in (idx, idx + 1):  # this case counts in window idx and as the baseline of idx + 1
            cur, prev = int(n[w]), int(n[w - 1])
            if cur < t.trend_min:
                continue  # counts only grow: below the minimum it has never been active
            s, e = bounds[w]
            await sync_rule_signal(
                ctx, session, rule="rising_trend", subject=f"{c['community']}|{w}",
                active=ws.rising(cur, prev, t.trend_ratio, t.trend_min),
                reasons=[f"{comm_name} {s}~{e - timedelta(days=1)} 共 {cur} 件，上一周期 {prev} 件 / "
                         f"{cur} cases in community {c['community']} {s}..{e - timedelta(days=1)}, {prev} before"],
                case_ids=sorted(ids[w]), first_at=first[w], community=c["community"])
    if c.get("wage_arrears") and c.get("community"):
        holiday = ws.next_holiday(day, t.wage_days)
        if holiday is not None:
            s = holiday - timedelta(days=t.wage_days)
            n, ids, first = await _count_cases(
                session, cases.c.community == c["community"], cases.c.wage_arrears,
                cases.c.reported_at >= ctx.local_start(s), cases.c.reported_at < ctx.local_start(holiday))
            if n >= t.wage_count:
                await sync_rule_signal(
                    ctx, session, rule="wage_arrears_holiday", subject=f"{c['community']}|{holiday}", active=True,
                    reasons=[f"{comm_name} 节前（{holiday} {ws.holiday_name(holiday)}）欠薪反映 {n} 件（阈值 {t.wage_count}） / "
                             f"{n} wage-arrears reports in community {c['community']} before the holiday on {holiday}"],
                    case_ids=ids, first_at=first, community=c["community"], category="labour")


async def mark_conversions(ctx: Ctx, session: AsyncSession, c: dict) -> None:
    """A grid worker's weak-signal report 'became a case' when a case of the same domain in the same grid
    follows within conversion_days; the earliest such case is recorded (order-independent)."""
    if not (c.get("grid") and c.get("category")):
        return
    t_case, cid = c["reported_at"], c["case_id"]
    conv = timedelta(days=ctx.thresholds.conversion_days)
    await session.execute(
        update(signals)
        .where(signals.c.source == "report", signals.c.grid == c["grid"], signals.c.category == c["category"],
               signals.c.first_at < t_case, signals.c.first_at >= t_case - conv,
               (signals.c.became_case_at.is_(None)) | (signals.c.became_case_at > t_case)
               | and_(signals.c.became_case_at == t_case, signals.c.became_case_id > cid))
        .values(became_case_id=cid, became_case_at=t_case)
    )


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
