"""Use cases on in-memory fakes: the inbox, an order, a case, the queue, overdue orders, escalations,
and the counts behind the gauges."""

from datetime import timedelta

import pytest
from dispatch_fakes import DISPATCHER, LEADER, FakeDispatchUoW, J, env_of, grid_event, officer, who
from fengqiao_common.errors import Forbidden, NotFound
from fengqiao_dispatch.usecases import reads, routing, rules
from fengqiao_dispatch.usecases.commands import OrderQuery, Page
from fengqiao_dispatch.usecases.timers import fire_due_timers


@pytest.fixture
async def uow() -> FakeDispatchUoW:
    u = FakeDispatchUoW()
    await rules.seed_demo_rules(u, jurisdiction=J)
    return u


async def report(uow, **kw) -> str:
    p = grid_event(**kw)
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    return p.case_id


async def test_the_inbox_shows_a_department_its_own_orders_and_the_centre_all(uow):
    a = await report(uow, category="neighbour")  # SFS + ZZB
    await report(uow, category="public_security")  # PCS + ZZB
    mine = await reads.list_orders(uow, officer("SFS"), OrderQuery(department="PCS"))  # the filter is ignored
    assert {o["department"] for o in mine} == {"SFS"} and [o["case_id"] for o in mine] == [a]
    assert len(await reads.list_orders(uow, DISPATCHER, OrderQuery())) == 4
    assert {o["department"] for o in await reads.list_orders(uow, LEADER, OrderQuery(department="ZZB"))} == {"ZZB"}
    assert len(await reads.list_orders(uow, DISPATCHER, OrderQuery(case_id=a, status="dispatched"))) == 2
    assert await reads.list_orders(uow, DISPATCHER, OrderQuery(status="resolved")) == []
    assert len(await reads.list_orders(uow, DISPATCHER, OrderQuery(limit=1, offset=3))) == 1
    with pytest.raises(Forbidden):
        await reads.list_orders(uow, who("grid_worker"), OrderQuery())
    with pytest.raises(Forbidden):
        await reads.list_orders(uow, who("department_officer"), OrderQuery())  # no department in the identity


async def test_an_order_with_its_case_and_history_is_hidden_from_other_departments(uow):
    case_id = await report(uow, category="other")
    [o] = await uow.orders.of_case(case_id)
    view = await reads.order_view(uow, officer("ZZB"), o["order_id"])
    assert view["case"]["case_id"] == case_id and "keywords" not in view["case"]
    assert [h["kind"] for h in view["history"]] == ["order.dispatched"]
    assert (await reads.order_view(uow, LEADER, o["order_id"]))["order_id"] == o["order_id"]
    with pytest.raises(NotFound):
        await reads.order_view(uow, officer("PCS"), o["order_id"])
    with pytest.raises(NotFound):
        await reads.order_view(uow, DISPATCHER, "nope")


async def test_case_view_queue_overdue_escalations_and_counts(uow):
    red = await report(uow, category="public_security", grade="red")  # PCS + ZZB, 15 min to sign for
    queued = await report(uow, category="other", grade="blue")
    await uow.cases.update(queued, status="queued", queue_reason="returned by ZZB: 不归我们")
    assert [(q["case_id"], q["queue_reason"]) for q in await reads.queue(uow, DISPATCHER, Page())] == [
        (queued, "returned by ZZB: 不归我们")]

    assert await reads.overdue(uow, DISPATCHER, Page()) == []
    uow.clock.advance(timedelta(minutes=31))  # past the sign-for and on-site limits
    await fire_due_timers(uow, jurisdiction=J)
    late = await reads.overdue(uow, DISPATCHER, Page())
    assert {o["case_id"] for o in late} == {red} and len(late) == 2
    assert [o["department"] for o in await reads.overdue(uow, officer("PCS"), Page())] == ["PCS"]

    view = await reads.case_view(uow, LEADER, red)
    assert len(view["orders"]) == 2 and view["status"] == "routed"
    assert {(e["detail"]["stage"], e["detail"]["level"]) for e in view["escalations"]} == {
        ("sign_for", "street_leader"), ("sign_for", "district")}  # on site: street leader at 45 min
    assert len(view["timers"]) == 2 * 12 and view["timeline"][0]["kind"] == "case.received"
    with pytest.raises(NotFound):
        await reads.case_view(uow, LEADER, "nope")

    esc = await reads.escalations(uow, LEADER, Page())
    assert len(esc) == 4 and {e["order_status"] for e in esc} == {"dispatched"}
    assert esc[0]["id"] > esc[-1]["id"]  # newest first
    assert len(await reads.escalations(uow, LEADER, Page(limit=2, offset=3))) == 1

    overdue, due = await reads.operational_counts(uow)
    assert overdue == {"PCS": 1, "ZZB": 1} and due == 0
    uow.clock.advance(timedelta(hours=30))
    assert (await reads.operational_counts(uow))[1] > 0
    assert await reads.count_cases(uow) == {"routed": 1, "queued": 1}
