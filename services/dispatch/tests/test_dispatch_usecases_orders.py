"""Use cases on in-memory fakes: each order action, wrong-state conflicts, wrong-department refusals,
and the centre's verification closing the case."""

from datetime import timedelta

import pytest
from dispatch_fakes import DISPATCHER, LEADER, FakeDispatchUoW, J, env_of, grid_event, officer
from fengqiao_common.errors import Conflict, Forbidden, NotFound
from fengqiao_dispatch.usecases import orders as uc
from fengqiao_dispatch.usecases import routing, rules
from fengqiao_dispatch.usecases.commands import CheckIn, Progress, Resolve, Return, SignFor, Verify
from fengqiao_events.payloads.common import Location
from fengqiao_events.payloads.order import (
    CaseClosed,
    CaseQueued,
    CaseResolved,
    DepartmentCheckedIn,
    OrderProgressed,
    OrderResolved,
    OrderReturned,
    OrderSigned,
    OrderVerified,
)

HERE = Location(lat=31.2, lon=121.4, address="外海街道 1 号")


@pytest.fixture
async def uow() -> FakeDispatchUoW:
    u = FakeDispatchUoW()
    await rules.seed_demo_rules(u, jurisdiction=J)
    return u


async def routed(uow, **kw) -> dict[str, dict]:
    """A reported case routed by the rules; its orders by department."""
    p = grid_event(**kw)
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    uow.take_events()
    return {o["department"]: o for o in await uow.orders.of_case(p.case_id)}


async def work_to_resolved(uow, order: dict) -> None:
    h = officer(order["department"])
    await uc.sign_for(uow, h, SignFor(order["order_id"]))
    await uc.check_in(uow, h, CheckIn(order["order_id"], HERE))
    await uc.resolve(uow, h, Resolve(order["order_id"], "已处理", ["att-1"]))


async def test_sign_for_check_in_progress_resolve_each_step_once(uow):
    o = (await routed(uow, category="other"))["ZZB"]
    oid, h = o["order_id"], officer("ZZB", "李科员")
    signed = await uc.sign_for(uow, h, SignFor(oid))
    assert signed["status"] == "signed" and signed["signed_by"] == "李科员" and signed["seq"] == 2
    [ev] = uow.take_events()
    assert isinstance(ev, OrderSigned) and ev.seq == 2 and ev.within_limit and ev.officer == "李科员"
    assert all(t["cancelled_at"] for t in uow.db.timers if t["order_id"] == oid and t["stage"] == "sign_for")
    assert not any(t["cancelled_at"] for t in uow.db.timers if t["order_id"] == oid and t["stage"] != "sign_for")

    uow.clock.advance(timedelta(days=12))  # past the on-site limit (3 working days, 1-7 Oct off)
    on_site = await uc.check_in(uow, h, CheckIn(oid, HERE, officer="王队"))
    assert on_site["status"] == "on_site" and on_site["check_in_location"]["address"] == HERE.address
    [ev] = uow.take_events()
    assert isinstance(ev, DepartmentCheckedIn) and not ev.within_limit and ev.officer == "王队"

    working = await uc.progress(uow, h, Progress(oid, "已约谈", ["photo-1"]))
    assert working["status"] == "in_progress"
    [ev] = uow.take_events()
    assert isinstance(ev, OrderProgressed) and ev.attachments == ["photo-1"]

    done = await uc.resolve(uow, h, Resolve(oid, "已调解", ["att-9"]))
    assert done["status"] == "resolved" and done["result"] == "已调解" and done["evidence"] == ["att-9"]
    resolved, case_resolved = uow.take_events()
    assert isinstance(resolved, OrderResolved) and resolved.seq == 5
    assert isinstance(case_resolved, CaseResolved) and case_resolved.departments == ["ZZB"]
    assert (await uow.cases.get(o["case_id"]))["status"] == "resolved"
    assert all(t["cancelled_at"] for t in uow.db.timers if t["order_id"] == oid)
    kinds = [e["kind"] for e in await uow.timeline.of_order(oid)]
    assert kinds == ["order.dispatched", "order.signed", "department.checked-in", "order.progressed",
                     "order.resolved"]


async def test_a_step_the_state_does_not_allow_is_a_conflict_with_the_status(uow):
    o = (await routed(uow, category="other"))["ZZB"]
    h = officer("ZZB")
    with pytest.raises(Conflict) as e:
        await uc.check_in(uow, h, CheckIn(o["order_id"], HERE))  # not signed yet
    assert e.value.code == "illegal_transition" and e.value.extra == {"status": "dispatched",
                                                                      "order_id": o["order_id"]}
    await uc.sign_for(uow, h, SignFor(o["order_id"]))
    with pytest.raises(Conflict) as e:
        await uc.sign_for(uow, h, SignFor(o["order_id"]))
    assert e.value.extra["status"] == "signed" and "签收" in e.value.zh
    with pytest.raises(Conflict):
        await uc.resolve(uow, h, Resolve(o["order_id"], "x"))  # on site required first
    with pytest.raises(Conflict):
        await uc.verify(uow, DISPATCHER, Verify(o["order_id"]))  # nothing to verify yet
    assert len(uow.committed_events) == 1  # only the sign-for
    assert (await uow.orders.get(o["order_id"]))["seq"] == 2


async def test_only_the_owning_department_acts_the_centre_only_verifies(uow):
    o = (await routed(uow, category="other"))["ZZB"]
    oid = o["order_id"]
    with pytest.raises(NotFound):
        await uc.sign_for(uow, officer("PCS"), SignFor(oid))  # another department: its existence is hidden
    with pytest.raises(Forbidden):
        await uc.sign_for(uow, DISPATCHER, SignFor(oid))  # the centre may see it, not act on it
    with pytest.raises(NotFound):
        await uc.sign_for(uow, officer("ZZB"), SignFor("no-such-order"))
    await work_to_resolved(uow, o)
    with pytest.raises(Forbidden):
        await uc.verify(uow, officer("ZZB"), Verify(oid))  # the department cannot verify its own result
    with pytest.raises(NotFound):
        await uc.verify(uow, officer("PCS"), Verify(oid))
    with pytest.raises(Forbidden):
        await uc.verify(uow, LEADER, Verify(oid))
    assert (await uow.orders.get(oid))["status"] == "resolved"


async def test_joint_orders_resolve_the_case_together_and_verification_closes_it(uow):
    by = await routed(uow, category="neighbour")  # SFS leads, ZZB assists
    await work_to_resolved(uow, by["SFS"])
    assert (await uow.cases.get(by["SFS"]["case_id"]))["status"] == "routed"  # the assisting order is open
    assert not uow.events_of(CaseResolved)
    await work_to_resolved(uow, by["ZZB"])
    case_id = by["SFS"]["case_id"]
    assert (await uow.cases.get(case_id))["status"] == "resolved"
    [resolved] = uow.events_of(CaseResolved)
    assert sorted(resolved.departments) == ["SFS", "ZZB"]
    uow.take_events()
    v = await uc.verify(uow, DISPATCHER, Verify(by["SFS"]["order_id"], comment="好"))
    assert v["status"] == "verified" and v["verified_at"] == uow.now()
    assert [type(e) for e in uow.take_events()] == [OrderVerified]
    await uc.verify(uow, DISPATCHER, Verify(by["ZZB"]["order_id"]))
    verified, closed = uow.take_events()
    assert isinstance(verified, OrderVerified) and isinstance(closed, CaseClosed)
    assert closed.by is not None and closed.by.name == "中心调度员"
    case = await uow.cases.get(case_id)
    assert case["status"] == "closed" and case["closed_at"] == uow.now()


async def test_a_rejected_result_goes_back_to_work_and_the_case_to_routed(uow):
    o = (await routed(uow, category="other"))["ZZB"]
    await work_to_resolved(uow, o)
    uow.take_events()
    back = await uc.verify(uow, DISPATCHER, Verify(o["order_id"], accepted=False, comment="证据不足"))
    assert back["status"] == "in_progress" and back["verified_at"] is None
    [ev] = uow.take_events()
    assert isinstance(ev, OrderVerified) and not ev.accepted and ev.comment == "证据不足"
    case = await uow.cases.get(o["case_id"])
    assert case["status"] == "routed" and case["resolved_at"] is None
    assert (await uow.timeline.of_order(o["order_id"]))[-1]["kind"] == "order.rejected"


async def test_a_returned_order_sends_the_case_to_the_queue(uow):
    o = (await routed(uow, category="other"))["ZZB"]
    r = await uc.return_order(uow, officer("ZZB"), Return(o["order_id"], "不属于本部门职责"))
    assert r["status"] == "returned" and r["return_reason"] == "不属于本部门职责"
    returned, queued = uow.take_events()
    assert isinstance(returned, OrderReturned) and returned.reason == "不属于本部门职责"
    assert isinstance(queued, CaseQueued) and queued.reason == "returned by ZZB: 不属于本部门职责"
    case = await uow.cases.get(o["case_id"])
    assert case["status"] == "queued" and case["queue_reason"] == queued.reason
    assert all(t["cancelled_at"] for t in uow.db.timers if t["order_id"] == o["order_id"])
    with pytest.raises(Conflict):
        await uc.return_order(uow, officer("ZZB"), Return(o["order_id"], "again"))
