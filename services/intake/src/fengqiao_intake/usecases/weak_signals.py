"""Weak signals (弱信号): a grid worker's early signs of risk, logged and published, never dispatched."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.case import WeakSignalReported

from ..domain import idempotency as idem
from ..domain.visibility import may_report_in, signal_scope
from ..schemas import WeakSignalIn
from .common import Context, Created, actor, actor_json, bad

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


async def _replayed(uow: IntakeUoW, caller: str, key: str, request_hash: str) -> Created | None:
    row = await uow.weak_signals.by_idempotency(caller, key)
    if row is None:
        return None
    idem.replay(row["idem_hash"], request_hash)
    return Created(row, False)


async def report_weak_signal(uow: IntakeUoW, principal: Principal, cmd: WeakSignalIn, *, ctx: Context,
                             idempotency_key: str | None = None) -> Created:
    j, key = ctx.jurisdiction, idempotency_key
    request_hash = idem.model_hash(cmd)
    try:
        async with uow:
            if key and (replayed := await _replayed(uow, principal.sub, key, request_hash)):
                return replayed
            g = j.grid(cmd.grid)
            if g is None:
                raise bad("grid", f"网格 {cmd.grid} 不在本辖区", f"unknown grid {cmd.grid}", "unknown_grid")
            if not may_report_in(principal, cmd.grid):
                raise Forbidden("只能上报本人负责网格的弱信号", "grid workers report only in their own grids")
            if j.domain(cmd.category) is None:
                raise bad("category", f"类别 {cmd.category} 不在目录中", f"unknown category {cmd.category}",
                          "unknown_category")
            at = uow.now()
            row = {
                "id": new_id(), "grid": cmd.grid, "community": g.community, "category": cmd.category,
                "summary": cmd.summary, "description": cmd.description, "people_involved": cmd.people_involved,
                "reporter": actor_json(principal), "reported_by": principal.sub, "reported_at": at,
                "idem_caller": principal.sub if key else None, "idem_key": key,
                "idem_hash": request_hash if key else None,
            }
            await uow.weak_signals.add(row)
            uow.emit(WeakSignalReported(
                signal_id=row["id"], grid=cmd.grid, community=g.community, category=cmd.category,
                summary=cmd.summary, description=cmd.description, people_involved=cmd.people_involved,
                reported_at=at, reporter=actor(principal)))
            await uow.commit()
    except idem.KeyTaken:
        async with uow:
            if key and (replayed := await _replayed(uow, principal.sub, key, request_hash)):
                return replayed
        raise
    return Created(row, True)


async def list_weak_signals(uow: IntakeUoW, principal: Principal, *, limit: int, offset: int) -> list[dict]:
    async with uow:
        return await uow.weak_signals.list(signal_scope(principal), limit, offset)
