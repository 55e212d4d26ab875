"""Order actions: the owning department signs for, checks in, reports progress, resolves or returns
its order; the centre verifies the result. Each locks the case, then the order."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_events.payloads.order import (
    DepartmentCheckedIn,
    OrderProgressed,
    OrderResolved,
    OrderReturned,
    OrderSigned,
    OrderVerified,
)

from ..adapters.uow import DispatchUoW
from ..domain import cases as cm
from ..domain import orders as om
from . import steps
from .commands import CheckIn, Progress, Resolve, Return, SignFor, Verify


async def _load_for_action(uow: DispatchUoW, order_id: str, principal: Principal, *,
                           centre: bool = False) -> tuple[dict, dict]:
    """Authorizes, then locks the case and the order (always in this order)."""
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound("order", "工单")
    om.authorize_action(principal, order, centre=centre)
    case = await uow.cases.get(order["case_id"], lock=True)
    order = await uow.orders.get(order_id, lock=True)
    return case, order


async def sign_for(uow: DispatchUoW, principal: Principal, cmd: SignFor) -> dict:
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal)
        status = om.transition("sign_for", order)
        now, actor, who = uow.now(), steps.actor_of(principal), om.officer(principal, cmd.officer)
        seq = await uow.orders.update(cmd.order_id, status=status, signed_by=who, signed_at=now, updated_at=now)
        await uow.timers.cancel_pending(cmd.order_id, now, ("sign_for",))
        within = om.within(order["sign_for_by"], now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id, kind="order.signed", at=now,
                               actor=steps.dumped(actor), detail={"officer": who, "within_limit": within})
        uow.emit(OrderSigned(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"], officer=who,
                             within_limit=within))
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view


async def check_in(uow: DispatchUoW, principal: Principal, cmd: CheckIn) -> dict:
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal)
        status = om.transition("check_in", order)
        now, actor, who = uow.now(), steps.actor_of(principal), om.officer(principal, cmd.officer)
        loc = cmd.location.model_dump(mode="json")
        seq = await uow.orders.update(cmd.order_id, status=status, checked_in_by=who, checked_in_at=now,
                                      check_in_location=loc, updated_at=now)
        await uow.timers.cancel_pending(cmd.order_id, now, ("on_site",))
        within = om.within(order["on_site_by"], now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id, kind="department.checked-in", at=now,
                               actor=steps.dumped(actor), detail={"officer": who, "location": loc, "within_limit": within})
        uow.emit(DepartmentCheckedIn(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"], officer=who,
                                     location=cmd.location, within_limit=within))
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view


async def progress(uow: DispatchUoW, principal: Principal, cmd: Progress) -> dict:
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal)
        status = om.transition("progress", order)
        now, actor = uow.now(), steps.actor_of(principal)
        seq = await uow.orders.update(cmd.order_id, status=status, updated_at=now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id, kind="order.progressed", at=now,
                               actor=steps.dumped(actor), detail={"note": cmd.note, "attachments": cmd.attachments})
        uow.emit(OrderProgressed(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"], note=cmd.note,
                                 attachments=cmd.attachments))
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view


async def resolve(uow: DispatchUoW, principal: Principal, cmd: Resolve) -> dict:
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal)
        status = om.transition("resolve", order)
        now, actor = uow.now(), steps.actor_of(principal)
        seq = await uow.orders.update(cmd.order_id, status=status, resolved_at=now, result=cmd.result,
                                      evidence=cmd.evidence, updated_at=now)
        await uow.timers.cancel_pending(cmd.order_id, now)
        within = om.within(order["resolve_by"], now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id, kind="order.resolved", at=now,
                               actor=steps.dumped(actor),
                               detail={"result": cmd.result, "evidence": cmd.evidence, "within_limit": within})
        uow.emit(OrderResolved(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"], result=cmd.result,
                               evidence=cmd.evidence, within_limit=within))
        await steps.check_case_progress(uow, case["case_id"])
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view


async def return_order(uow: DispatchUoW, principal: Principal, cmd: Return) -> dict:
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal)
        status = om.transition("return", order)
        now, actor = uow.now(), steps.actor_of(principal)
        seq = await uow.orders.update(cmd.order_id, status=status, return_reason=cmd.reason, returned_at=now,
                                      updated_at=now)
        await uow.timers.cancel_pending(cmd.order_id, now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id, kind="order.returned", at=now,
                               actor=steps.dumped(actor), detail={"reason": cmd.reason})
        uow.emit(OrderReturned(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"], reason=cmd.reason))
        if cm.requeued_on_return(case["status"]):
            await steps.queue_case(uow, case, f"returned by {order['department']}: {cmd.reason}", actor=actor)
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view


async def verify(uow: DispatchUoW, principal: Principal, cmd: Verify) -> dict:
    """The centre's check of a result: accepted (the order is verified; the case may close) or rejected
    (back to in_progress, and a resolved case back to routed)."""
    async with uow:
        case, order = await _load_for_action(uow, cmd.order_id, principal, centre=True)
        status = om.transition("verify" if cmd.accepted else "reject", order)
        now, actor = uow.now(), steps.actor_of(principal)
        seq = await uow.orders.update(cmd.order_id, status=status, verified_at=now if cmd.accepted else None,
                                      updated_at=now)
        await uow.timeline.add(case_id=order["case_id"], order_id=cmd.order_id,
                               kind="order.verified" if cmd.accepted else "order.rejected", at=now,
                               actor=steps.dumped(actor), detail={"accepted": cmd.accepted, "comment": cmd.comment})
        uow.emit(OrderVerified(**steps.order_ref(order, seq, now, actor), case_no=case["case_no"],
                               accepted=cmd.accepted, comment=cmd.comment))
        if not cmd.accepted and case["status"] == cm.RESOLVED:
            await uow.cases.update(case["case_id"], status=cm.ROUTED, resolved_at=None, updated_at=now)
        await steps.check_case_progress(uow, case["case_id"], actor=actor)
        view = await uow.orders.get(cmd.order_id)
        await uow.commit()
    return view
