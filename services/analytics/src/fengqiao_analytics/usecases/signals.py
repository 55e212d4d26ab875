"""The weak-signal ledger (弱信号台账): grid workers' reports, status changes (triage), reads.

A status change is itself an event (``weak-signal.triaged``) and the history is keyed by its event id, so
the API write and the replay of the published event agree in any order and survive a rebuild."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fengqiao_common.auth import Principal
from fengqiao_common.clock import aware
from fengqiao_common.errors import Conflict, NotFound, invalid
from fengqiao_events.payloads.analytics import WeakSignalTriaged
from fengqiao_events.payloads.common import Actor

from ..domain import readmodel as rm
from ..domain import signals as ws
from ..domain.policy import scope_of
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW


@dataclass(frozen=True)
class StatusChange:
    signal_id: str
    status: str
    assignee: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class SignalFilter:
    status: str | None = None
    rule: str | None = None
    grid: str | None = None
    community: str | None = None
    limit: int = 50
    offset: int = 0


def public_signal(row: dict, *, pii: bool) -> dict:
    """The ledger row as shown: the requester rule's subject is a pseudonymous requester id, shown only to
    roles that may see personal data."""
    out = {k: row[k] for k in ("signal_id", "source", "rule", "grid", "community", "category", "reasons",
                               "case_ids", "people_involved", "active", "status", "assignee", "first_at",
                               "became_case_id", "became_case_at", "updated_at", "summary") if k in row}
    out["rule_name"] = ws.RULES.get(row.get("rule") or "", {}).get("zh")
    out["subject"] = row.get("subject") if (pii or row.get("rule") != "repeat_requester") else "***"
    if "history" in row:
        out["history"] = row["history"]
    return out


# --- events -----------------------------------------------------------------------------------------------
async def record_report(uow: AnalyticsUoW, ctx: Context, p: Any) -> None:
    """A grid worker's ``weak-signal.reported``: a ledger row, marked 'became a case' if a case of the same
    domain in the same grid followed within conversion_days."""
    at = aware(p.reported_at)
    grid_name, _comm_name, dom_name = ctx.names({"grid": p.grid, "community": p.community, "category": p.category})
    reasons = [f"网格员上报：{grid_name}「{dom_name}」早期迹象 / grid worker reported an early sign ({p.category})"]
    if p.people_involved >= ctx.thresholds.people_count:
        reasons.append(f"涉及 {p.people_involved} 人 / {p.people_involved} people involved")
    await uow.signals.upsert_report({
        "signal_id": p.signal_id, "subject": p.signal_id, "grid": p.grid, "community": p.community,
        "category": p.category, "reasons": reasons, "summary": p.summary, "people_involved": p.people_involved,
        "first_at": at})
    if p.grid:
        case = await uow.cases.first_reported(p.grid, p.category, at,
                                              at + timedelta(days=ctx.thresholds.conversion_days))
        if case is not None:
            await uow.signals.set_became_case(p.signal_id, *case)
    await uow.ticker.add([rm.ticker_row("weak-signal.reported", at, grid=p.grid, category=p.category)])


async def apply_triage(uow: AnalyticsUoW, event_id: str, p: WeakSignalTriaged) -> bool:
    """Record a status change once (keyed by its event id) and set the signal's status to that of its
    latest history entry. Returns False for a duplicate."""
    by = p.by
    if not await uow.signals.add_history({
        "event_id": event_id, "signal_id": p.signal_id, "at": aware(p.at), "from_status": p.previous_status,
        "to_status": p.status, "assignee": p.assignee, "note": p.note, "by_id": by.id if by else None,
        "by_role": by.role if by else None,
    }):
        return False
    status, assignee = await uow.signals.latest_status(p.signal_id)
    await uow.signals.set_status(p.signal_id, status, assignee)
    return True


# --- API --------------------------------------------------------------------------------------------------
async def _load(uow: AnalyticsUoW, signal_id: str) -> dict:
    row = await uow.signals.get(signal_id)
    if row is None or row["source"] == "pending":
        raise NotFound("weak signal", "弱信号")
    return {**row, "history": await uow.signals.history(signal_id)}


async def change_status(uow: AnalyticsUoW, principal: Principal, cmd: StatusChange) -> dict:
    """Check the transition, write history + status and the ``weak-signal.triaged`` event (one
    transaction). Returns the signal as shown to ``principal``."""
    async with uow:
        row = await uow.signals.get(cmd.signal_id, lock=True)
        if row is None or row["source"] == "pending":
            raise NotFound("weak signal", "弱信号")
        if not ws.can_transition(row["status"], cmd.status):
            raise Conflict(f"弱信号状态不能从 {row['status']} 变为 {cmd.status}",
                           f"a weak signal cannot go from {row['status']} to {cmd.status}",
                           code="invalid_transition", current={"status": row["status"], "assignee": row["assignee"]},
                           allowed=sorted(ws.TRANSITIONS.get(row["status"], ())))
        if cmd.status == "assigned" and not (cmd.assignee or row["assignee"]):
            raise invalid("assignee", "指派时必须填写负责部门或人员", "assignee is required to assign", code="missing")
        actor = principal.actor() | {"name": None}  # events carry no personal names
        payload = WeakSignalTriaged(
            signal_id=cmd.signal_id, status=cmd.status, previous_status=row["status"],
            assignee=cmd.assignee or row["assignee"], note=cmd.note, by=Actor(**actor), at=uow.now(),
        )
        await apply_triage(uow, uow.emit_identified(payload), payload)
        out = await _load(uow, cmd.signal_id)
        await uow.commit()
    return public_signal(out, pii=scope_of(principal).requester)


async def get_signal(uow: AnalyticsUoW, principal: Principal, signal_id: str) -> dict:
    """One signal, if the caller's purpose covers it (domain/policy.py); otherwise as if it did not exist."""
    scope = scope_of(principal)
    async with uow:
        row = await _load(uow, signal_id)
    if not scope.sees_signal(row):
        raise NotFound("weak signal", "弱信号")
    return public_signal(row, pii=scope.requester)


async def list_signals(uow: AnalyticsUoW, principal: Principal, f: SignalFilter) -> dict:
    """The ledger as the caller's purpose allows: the street roles all of it, a department the signals
    assigned to it, a grid worker those of their grids."""
    scope = scope_of(principal)
    within = {} if scope.street else {"departments": sorted(scope.departments), "grids": sorted(scope.grids)}
    async with uow:
        total, rows = await uow.signals.listed(status=f.status, rule=f.rule, grid=f.grid, community=f.community,
                                               limit=f.limit, offset=f.offset, **within)
    return {"total": total, "items": [public_signal(r, pii=scope.requester) for r in rows]}


async def signal_stats(uow: AnalyticsUoW) -> dict:
    async with uow:
        rows = await uow.signals.counts()
    return stats_of(rows)


def stats_of(rows: list[tuple[str, str, int, int]]) -> dict:
    by_status: dict[str, int] = defaultdict(int)
    by_rule: dict[str, int] = defaultdict(int)
    total = converted = 0
    for rule, status, n, conv in rows:
        by_status[status] += n
        by_rule[rule] += n
        total += n
        converted += conv
    reports = sum(n for rule, _s, n, _c in rows if rule == "grid_report")
    return {"total": total, "by_status": {s: by_status.get(s, 0) for s in ws.STATUSES}, "by_rule": dict(by_rule),
            "open": by_status.get("new", 0) + by_status.get("assigned", 0),
            "reports": reports, "became_cases": converted,
            "conversion_rate": rm.rate(converted, reports)}


def rules(ctx: Context) -> dict:
    """The rules, their thresholds and the ledger's status machine."""
    return {"rules": [{"code": k, "name_zh": v["zh"], "name_en": v["en"]} for k, v in ws.RULES.items()],
            "thresholds": ctx.thresholds.model_dump(),
            "transitions": {k: sorted(v) for k, v in ws.TRANSITIONS.items()}}
