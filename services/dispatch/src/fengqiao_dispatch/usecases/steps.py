"""Steps several use cases share, inside their unit of work: queue a case, create its orders, withdraw
its open orders, decide whether it is resolved or closed, close it. Each writes the state, a timeline
entry and its events together."""

from __future__ import annotations

from datetime import datetime

from fengqiao_common.auth import Principal
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope
from fengqiao_events.payloads.common import SYSTEM, Actor
from fengqiao_events.payloads.order import CaseClosed, CaseQueued, CaseResolved, OrderCancelled

from ..adapters.uow import DispatchUoW
from ..domain import cases as cm
from ..domain import orders as om
from ..domain.dispatching import plan_orders
from ..domain.rules import StoredRule


def actor_of(principal: Principal | None) -> Actor:
    return Actor(**principal.actor()) if principal else SYSTEM


def dumped(actor: Actor | None) -> dict | None:
    return actor.model_dump(mode="json") if actor else None


def order_ref(order: dict, seq: int, now: datetime, actor: Actor) -> dict:
    return dict(order_id=order["order_id"], case_id=order["case_id"], department=order["department"], seq=seq,
                at=now, by=actor)


async def queue_case(uow: DispatchUoW, case: dict, reason: str, *, causation: Envelope | None = None,
                     actor: Actor | None = None) -> None:
    now = uow.now()
    await uow.cases.update(case["case_id"], status=cm.QUEUED, queue_reason=reason, updated_at=now)
    await uow.timeline.add(case_id=case["case_id"], kind="case.queued", at=now, actor=dumped(actor),
                           detail={"reason": reason})
    uow.emit(CaseQueued(case_id=case["case_id"], case_no=case["case_no"], reason=reason, at=now), causation=causation)


async def create_orders(uow: DispatchUoW, case: dict, *, lead: str | None, assist: list[str], on_site_required: bool,
                        rule: StoredRule | None, actor: Actor, jurisdiction: Jurisdiction,
                        causation: Envelope | None = None, reroute_of: dict[str, str] | None = None) -> list[dict]:
    """The case's orders, timers, timeline rows and events, each table written with one statement."""
    now = uow.now()
    plan = plan_orders(case, lead=lead, assist=assist, on_site_required=on_site_required, rule=rule, actor=actor,
                       now=now, jurisdiction=jurisdiction, reroute_of=reroute_of)
    if plan.orders:
        await uow.orders.add_many(plan.orders)
        await uow.timers.add_many(plan.timers)
        await uow.timeline.add_many(plan.timeline)
        uow.emit(*plan.events, causation=causation)
    await uow.cases.update(case["case_id"], status=cm.ROUTED, queue_reason=None, updated_at=now)
    return plan.orders


async def close_case(uow: DispatchUoW, case: dict, actor: Actor | None, *, causation: Envelope | None = None) -> None:
    now = uow.now()
    await uow.cases.update(case["case_id"], status=cm.CLOSED, closed_at=now, updated_at=now)
    await uow.timeline.add(case_id=case["case_id"], kind="case.closed", at=now, actor=dumped(actor))
    uow.emit(CaseClosed(case_id=case["case_id"], case_no=case["case_no"], at=now, by=actor), causation=causation)


async def cancel_open_orders(uow: DispatchUoW, case: dict, reason: str, actor: Actor, *,
                             causation: Envelope | None = None) -> None:
    now = uow.now()
    for o in await uow.orders.of_case(case["case_id"]):
        if o["status"] not in om.OPEN:
            continue
        o = await uow.orders.get(o["order_id"], lock=True)
        seq = await uow.orders.update(o["order_id"], status=om.CANCELLED, updated_at=now)
        await uow.timers.cancel_pending(o["order_id"], now)
        await uow.timeline.add(case_id=case["case_id"], order_id=o["order_id"], kind="order.cancelled", at=now,
                               actor=dumped(actor), detail={"reason": reason})
        uow.emit(OrderCancelled(**order_ref(o, seq, now, actor), case_no=case["case_no"], reason=reason),
                 causation=causation)


async def check_case_progress(uow: DispatchUoW, case_id: str, actor: Actor | None = None) -> None:
    """Resolved when the lead is resolved and every assisting order is done; closed when the centre has
    verified every order. Runs under the case lock, so joint orders finishing at once decide once."""
    now = uow.now()
    case = await uow.cases.get(case_id)
    case_orders = await uow.orders.of_case(case_id)
    roles = [(o["role"], o["status"]) for o in case_orders]
    if cm.may_resolve(case["status"]) and om.case_resolved(roles):
        depts = [o["department"] for o in case_orders if o["status"] in om.ACTIVE]
        await uow.cases.update(case_id, status=cm.RESOLVED, resolved_at=now, queue_reason=None, updated_at=now)
        await uow.timeline.add(case_id=case_id, kind="case.resolved", at=now, detail={"departments": depts})
        uow.emit(CaseResolved(case_id=case_id, case_no=case["case_no"], at=now, departments=depts))
        case["status"] = cm.RESOLVED
    if case["status"] == cm.RESOLVED and om.case_closed(roles):
        await close_case(uow, case, actor)
