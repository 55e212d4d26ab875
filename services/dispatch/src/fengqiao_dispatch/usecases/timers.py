"""The timer loop's use case: fire the timers due by the clock's now."""

from __future__ import annotations

from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events.payloads.common import SYSTEM

from ..adapters.uow import DispatchUoW
from ..domain import timers as tm


async def fire_due_timers(uow: DispatchUoW, *, jurisdiction: Jurisdiction, batch_size: int = 200,
                          replica: str = "") -> int:
    """Fire up to ``batch_size`` due timers in one transaction; returns how many were claimed. Rows are
    claimed with FOR UPDATE SKIP LOCKED, so replicas share the work and a timer fires once: its fired_at
    commits with the event it emits. A timer whose step is done meanwhile is dropped."""
    async with uow:
        now = uow.now()
        due = await uow.timers.claim_due(now, batch_size)
        for t in due:
            order = await uow.orders.get(t["order_id"], lock=True)
            if not tm.still_due(t["stage"], order["status"]):
                await uow.timers.mark_cancelled(t["id"], now)
                continue
            case = await uow.cases.get(order["case_id"])
            seq = await uow.orders.update(order["order_id"], updated_at=order["updated_at"])
            payload, kind, detail = tm.alarm(t, order, case, seq, now, jurisdiction)
            await uow.timers.mark_fired(t["id"], now, replica)
            await uow.timeline.add(case_id=order["case_id"], order_id=order["order_id"], kind=kind, at=now,
                                   actor=SYSTEM.model_dump(mode="json"), detail=detail)
            uow.emit(payload)
        await uow.commit()
    return len(due)
