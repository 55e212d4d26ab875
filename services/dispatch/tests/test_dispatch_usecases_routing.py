"""Use cases on in-memory fakes: a reported case routed by the rules, queued, or dispatched by hand."""

from datetime import timedelta

import pytest
from dispatch_fakes import BASE, DISPATCHER, FakeDispatchUoW, J, env_of, grid_event
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_dispatch.domain import timers as tm
from fengqiao_dispatch.usecases import routing, rules
from fengqiao_dispatch.usecases.commands import ManualDispatch
from fengqiao_events.payloads.order import CaseQueued, OrderDispatched


@pytest.fixture
async def uow() -> FakeDispatchUoW:
    u = FakeDispatchUoW()
    await rules.seed_demo_rules(u, jurisdiction=J)
    return u


async def receive(uow, **kw):
    p = grid_event(**kw)
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    return p


async def test_a_reported_case_is_routed_by_the_default_rule_of_its_domain(uow):
    p = await receive(uow, category="labour", grade="yellow")
    case = await uow.cases.get(p.case_id)
    assert case["status"] == "routed" and case["clock_started_at"] == BASE
    orders = await uow.orders.of_case(p.case_id)
    assert {(o["department"], o["role"]) for o in orders} == {("RSS", "lead"), ("SFS", "assist")}
    assert all(o["rule_id"] == "default-labour" and o["rule_version"] == 1 and o["status"] == "dispatched"
               for o in orders)
    # yellow: sign for within 4 h; every stage gets reminder, overdue and two escalations
    lead = next(o for o in orders if o["role"] == "lead")
    assert lead["sign_for_by"] == BASE + timedelta(hours=4)
    mine = [t for t in uow.db.timers if t["order_id"] == lead["order_id"]]
    assert sorted({t["stage"] for t in mine}) == ["on_site", "resolve", "sign_for"]
    assert len(mine) == 3 * len(tm.KINDS)
    events = uow.events_of(OrderDispatched)
    assert {e.order_id for e in events} == {o["order_id"] for o in orders}
    assert all(e.case_id == p.case_id and e.seq == 1 and e.deadlines.sign_for_by == o["sign_for_by"]
               for e, o in zip(sorted(events, key=lambda e: e.order_id), sorted(orders, key=lambda o: o["order_id"]),
                               strict=True))
    kinds = [e["kind"] for e in await uow.timeline.of_case(p.case_id)]
    assert kinds == ["case.received", "order.dispatched", "order.dispatched"]


async def test_a_re_sent_report_changes_nothing(uow):
    p = await receive(uow)
    before = (len(uow.db.orders), len(uow.committed_events))
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    assert (len(uow.db.orders), len(uow.committed_events)) == before


async def test_the_wage_rule_wins_over_the_default_by_priority(uow):
    p = await receive(uow, category="labour", grade="blue", summary="讨薪", description="工人欠薪")
    orders = await uow.orders.of_case(p.case_id)
    assert {(o["department"], o["role"], o["rule_id"]) for o in orders} == {
        ("QRSJ", "lead", "labour-wage-arrears"), ("QFY", "assist", "labour-wage-arrears")}


async def test_no_matching_rule_queues_the_case():
    uow = FakeDispatchUoW()  # no rules at all
    p = await receive(uow)
    case = await uow.cases.get(p.case_id)
    assert case["status"] == "queued" and case["queue_reason"] == "no_rule_matched"
    [queued] = uow.events_of(CaseQueued)
    assert queued.case_id == p.case_id and queued.reason == "no_rule_matched"
    assert not uow.db.orders


async def test_manual_dispatch_of_a_queued_case_links_the_returned_order():
    uow = FakeDispatchUoW()
    p = await receive(uow)
    cmd = ManualDispatch(p.case_id, lead="SFS", assist=["ZZB"], on_site_required=False)
    created = await routing.manual_dispatch(uow, DISPATCHER, cmd, jurisdiction=J)
    assert [(o["department"], o["role"], o["rule_id"]) for o in created] == [("SFS", "lead", None),
                                                                               ("ZZB", "assist", None)]
    assert (await uow.cases.get(p.case_id))["status"] == "routed"
    assert created[0]["dispatched_by"]["name"] == "中心调度员" and created[0]["on_site_by"] is None
    assert {e.order_id for e in uow.events_of(OrderDispatched)} == {o["order_id"] for o in created}
    # the lead returns it: the next manual lead re-routes that order
    await uow.orders.update(created[0]["order_id"], status="returned")
    await uow.cases.update(p.case_id, status="queued")
    [again] = await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id, lead="PCS"), jurisdiction=J)
    assert again["reroute_of"] == created[0]["order_id"]


async def test_manual_dispatch_refusals(uow):
    p = await receive(uow)  # routed by the default rule: not in the queue
    with pytest.raises(Conflict) as e:
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id, lead="PCS"), jurisdiction=J)
    assert e.value.code == "case_not_queued" and e.value.extra["status"] == "routed"
    with pytest.raises(NotFound):
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch("nope", lead="PCS"), jurisdiction=J)
    with pytest.raises(Invalid) as e:
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id, lead="ZZZX", assist=["XX", "XX"]),
                                      jurisdiction=J)
    assert [f["field"] for f in e.value.fields] == ["lead", "assist.0", "assist.1", "assist"]
    with pytest.raises(Invalid):
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id), jurisdiction=J)
    await uow.cases.update(p.case_id, status="queued")
    with pytest.raises(Conflict) as e:  # the case still has its active lead (SFS)
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id, lead="PCS"), jurisdiction=J)
    assert e.value.code == "lead_exists"
    with pytest.raises(Conflict) as e:
        await routing.manual_dispatch(uow, DISPATCHER, ManualDispatch(p.case_id, assist=["ZZB"]), jurisdiction=J)
    assert e.value.code == "department_busy"
    lead_only_assist = ManualDispatch(p.case_id, assist=["PCS"])
    [added] = await routing.manual_dispatch(uow, DISPATCHER, lead_only_assist, jurisdiction=J)
    assert added["role"] == "assist" and added["department"] == "PCS"
    # refusals left nothing behind
    assert len(uow.events_of(OrderDispatched)) == 3
