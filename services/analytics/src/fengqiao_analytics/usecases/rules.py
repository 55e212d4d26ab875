"""Weak-signal rules: evaluate them over the read models and write the ledger (set-based, once per batch).

Rule signals are derived (domain/signals.py): a signal is active exactly when its condition holds over the
events seen so far; windowed rules use tumbling windows whose counts only grow, so the outcome does not
depend on arrival order. A signal raised for the first time ever is announced on ``weak-signal.flagged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fengqiao_events.payloads.analytics import WeakSignalFlagged

from ..domain import readmodel as rm
from ..domain import signals as ws
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW


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


async def sync_rule_signals(uow: AnalyticsUoW, evaluations: list[RuleSignal]) -> None:
    """Write rule evaluations: active ones upsert their signal (one statement), inactive ones update an
    existing signal's figures (the row keeps the figures of the latest evaluation, so that its content
    depends only on the events seen, not on their order; a triaged signal stays listed even when its
    condition no longer holds). A signal raised for the first time is announced."""
    latest = {ws.signal_id(e.rule, e.subject): e for e in evaluations}  # one row may appear once per statement
    await uow.signals.deactivate_many([
        {"signal_id": sid, "reasons": e.reasons, "case_ids": e.case_ids[:50], "first_at": e.first_at}
        for sid, e in sorted(latest.items()) if not e.active])
    on = [(sid, e) for sid, e in sorted(latest.items()) if e.active]
    if not on:
        return
    new = await uow.signals.upsert_rules([
        {"signal_id": sid, "source": "rule", "rule": e.rule, "subject": e.subject, "grid": e.grid,
         "community": e.community, "category": e.category, "reasons": e.reasons, "case_ids": e.case_ids[:50],
         "people_involved": e.people, "active": True, "first_at": e.first_at} for sid, e in on])
    if new:
        await announce(uow, [latest[sid] for sid in new])


async def announce(uow: AnalyticsUoW, raised: list[RuleSignal]) -> None:
    """Emit weak-signal.flagged once per signal ever (the announcements survive rebuilds)."""
    by_id = {ws.signal_id(e.rule, e.subject): e for e in raised}
    first = await uow.signals.first_announcements(sorted(by_id))
    if not first:
        return
    at = uow.now()
    payloads = [WeakSignalFlagged(signal_id=sid, rule=by_id[sid].rule, reasons=by_id[sid].reasons,
                                  grid=by_id[sid].grid, community=by_id[sid].community,
                                  category=by_id[sid].category, at=at) for sid in sorted(first)]
    uow.emit(*payloads)
    await uow.ticker.add([rm.ticker_row("weak-signal.flagged", at, grid=p.grid, category=p.category)
                          for p in payloads])


async def evaluate_case_rules(uow: AnalyticsUoW, ctx: Context, c: dict) -> None:
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
        await sync_rule_signals(uow, out)


async def evaluate_report_rules(uow: AnalyticsUoW, ctx: Context, reports: list[dict]) -> None:
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

    counts = await uow.cases.window_counts(["grid", "category"], sorted(repeat))
    for key, (idx, start, end, c) in sorted(repeat.items()):
        n, ids, first = counts.get(key, (0, [], None))
        if n >= t.repeat_count:
            grid_name, _, dom_name = ctx.names(c)
            out.append(RuleSignal(
                "repeat_domain_grid", f"{c['grid']}|{c['category']}|{idx}", True,
                [f"{grid_name}「{dom_name}」{start}~{end - timedelta(days=1)} 共 {n} 件（阈值 {t.repeat_count}） / "
                 f"{n} {c['category']} cases in grid {c['grid']} {start}..{end - timedelta(days=1)} "
                 f"(threshold {t.repeat_count})"],
                ids, first, grid=c["grid"], community=c.get("community"), category=c["category"]))

    counts = await uow.cases.window_counts(["requester_ref"], sorted(requester))
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
    counts = await uow.cases.window_counts(["community"], sorted(set(wkeys.values())))
    for (comm, w), c in sorted(trend.items()):
        cur, ids, first = counts.get(wkeys[(comm, w)], (0, [], None))
        prev = counts.get(wkeys[(comm, w - 1)], (0, [], None))[0]
        if cur < t.trend_min:
            continue  # counts only grow: below the minimum it has never been active
        s, e = windows[(comm, w)]
        comm_name = ctx.names(c)[1]
        out.append(RuleSignal(
            "rising_trend", f"{comm}|{w}", ws.rising(cur, prev, t.trend_ratio, t.trend_min),
            [f"{comm_name} {s}~{e - timedelta(days=1)} 共 {cur} 件，上一周期 {prev} 件 / "
             f"{cur} cases in community {comm} {s}..{e - timedelta(days=1)}, {prev} before"],
            ids, first, community=comm))

    counts = await uow.cases.window_counts(["community"], sorted(wage), wage_arrears=True)
    for key, (holiday, c) in sorted(wage.items()):
        n, ids, first = counts.get(key, (0, [], None))
        if n >= t.wage_count:
            comm_name = ctx.names(c)[1]
            out.append(RuleSignal(
                "wage_arrears_holiday", f"{c['community']}|{holiday}", True,
                [f"{comm_name} 节前（{holiday} {ws.holiday_name(holiday)}）欠薪反映 {n} 件（阈值 {t.wage_count}） / "
                 f"{n} wage-arrears reports in community {c['community']} before the holiday on {holiday}"],
                ids, first, community=c["community"], category="labour"))
    await sync_rule_signals(uow, out)


async def mark_conversions(uow: AnalyticsUoW, ctx: Context, reports: list[dict]) -> None:
    """A grid worker's weak-signal report 'became a case' when a case of the same domain in the same grid
    follows within conversion_days; the earliest such case is recorded (order-independent). One statement
    for all of a batch's reports."""
    rows = [(c["grid"], c["category"], c["reported_at"], c["case_id"]) for c in reports
            if c.get("grid") and c.get("category")]
    await uow.signals.mark_conversions(rows, timedelta(days=ctx.thresholds.conversion_days))
