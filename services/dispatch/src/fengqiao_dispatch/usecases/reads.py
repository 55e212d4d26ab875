"""Queries: a department's inbox, an order with its history, a case with its orders, timeline, timers
and escalations, the manual queue, overdue orders, escalations, and the counts behind the gauges."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden, NotFound

from ..adapters.uow import DispatchUoW
from ..domain import cases as cm
from ..domain import orders as om
from .commands import OrderQuery, Page


async def list_orders(uow: DispatchUoW, principal: Principal, q: OrderQuery) -> list[dict]:
    """The centre sees every order (optionally one department's); a department only its own."""
    if not om.may_list(principal):
        raise Forbidden("无权查看工单", "not allowed to list orders")
    department = q.department if principal.has(*om.CENTRE_ROLES) else principal.department
    async with uow:
        return await uow.orders.search(department=department, status=q.status, case_id=q.case_id, limit=q.limit,
                                       offset=q.offset)


async def order_view(uow: DispatchUoW, principal: Principal, order_id: str) -> dict:
    """An order with its case and history; another department's order is not found."""
    async with uow:
        order = await uow.orders.get(order_id)
        if order is None or not om.may_read(principal, order):
            raise NotFound("order", "工单")
        case = await uow.cases.get(order["case_id"])
        history = await uow.timeline.of_order(order_id)
    return {**order, "case": cm.brief(case), "history": history}


async def case_view(uow: DispatchUoW, principal: Principal, case_id: str) -> dict:
    async with uow:
        case = await uow.cases.get(case_id)
        if case is None:
            raise NotFound("case", "案件")
        orders = await uow.orders.of_case(case_id)
        timeline = await uow.timeline.of_case(case_id)
        timers = await uow.timers.of_case(case_id)
    return {**case, "orders": orders, "timeline": timeline,
            "escalations": [e for e in timeline if e["kind"] == "order.escalated"], "timers": timers}


async def queue(uow: DispatchUoW, principal: Principal, page: Page) -> list[dict]:
    async with uow:
        rows = await uow.cases.queued(page.limit, page.offset)
    return [{**cm.brief(r), "queue_reason": r["queue_reason"]} for r in rows]


async def overdue(uow: DispatchUoW, principal: Principal, page: Page) -> list[dict]:
    """Open orders with a missed deadline (by the clock) for a step not yet done; a department's own."""
    async with uow:
        return await uow.orders.overdue(uow.now(), department=principal.department,
                                        everyone=principal.has(*om.CENTRE_ROLES), limit=page.limit,
                                        offset=page.offset)


async def escalations(uow: DispatchUoW, principal: Principal, page: Page) -> list[dict]:
    async with uow:
        return await uow.timeline.escalations(page.limit, page.offset)


async def operational_counts(uow: DispatchUoW) -> tuple[dict[str, int], int]:
    """Overdue open orders per department, and timers due but not fired (for the gauges)."""
    async with uow:
        now = uow.now()
        return await uow.orders.overdue_by_department(now), await uow.timers.due_count(now)


async def count_cases(uow: DispatchUoW) -> dict[str, int]:
    async with uow:
        return await uow.cases.count_by_status()
