"""Use cases on in-memory fakes: transfer to mediation and the events of other services on a case
(reopened, merged, mediation confirmed / failed), including the ones its state makes moot."""

from datetime import timedelta

import pytest
from dispatch_fakes import DISPATCHER, FakeDispatchUoW, J, env_of, grid_event, officer
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_dispatch.usecases import cases as uc
from fengqiao_dispatch.usecases import orders, routing, rules
from fengqiao_dispatch.usecases.commands import CheckIn, ReferToMediation, Resolve, SignFor, Verify
from fengqiao_events.payloads.case import CaseMerged, CaseReopened
from fengqiao_events.payloads.common import Actor, Location
from fengqiao_events.payloads.mediation import MediationConfirmed, MediationFailed
from fengqiao_events.payloads.order import (
    CaseClosed,
    CaseQueued,
    CaseResolved,
    MediationReferred,
    OrderCancelled,
    OrderDispatched,
)

WORKER = Actor(id="u-grid", role="grid_worker", name="网格员")


@pytest.fixture
async def uow() -> FakeDispatchUoW:
    u = FakeDispatchUoW()
    await rules.seed_demo_rules(u, jurisdiction=J)
    return u


async def routed(uow, **kw) -> str:
    p = grid_event(**kw)
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    uow.take_events()
    return p.case_id


async def closed(uow, case_id: str) -> None:
    for o in await uow.orders.of_case(case_id):
        h = officer(o["department"])
        await orders.sign_for(uow, h, SignFor(o["order_id"]))
        await orders.check_in(uow, h, CheckIn(o["order_id"], Location(address="现场")))
        await orders.resolve(uow, h, Resolve(o["order_id"], "ok"))
    for o in await uow.orders.of_case(case_id):
        await orders.verify(uow, DISPATCHER, Verify(o["order_id"]))
    assert (await uow.cases.get(case_id))["status"] == "closed"
    uow.take_events()


async def test_transfer_to_mediation_withdraws_the_open_orders(uow):
    case_id = await routed(uow, category="labour")
    view = await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation(case_id, note="劳资协商"), jurisdiction=J)
    assert view["case_id"] == case_id and view["category"] == "labour" and view["at"] == uow.now()
    events = uow.take_events()
    assert sorted(type(e).__name__ for e in events) == ["MediationReferred", "OrderCancelled", "OrderCancelled"]
    [ref] = [e for e in events if isinstance(e, MediationReferred)]
    assert ref.referral_id == view["referral_id"] and ref.by.name == "中心调度员"
    assert (await uow.cases.get(case_id))["status"] == "mediation"
    assert {o["status"] for o in await uow.orders.of_case(case_id)} == {"cancelled"}
    with pytest.raises(Conflict) as e:
        await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation(case_id), jurisdiction=J)
    assert e.value.extra == {"status": "mediation"}


async def test_transfer_needs_a_mediation_category_and_a_known_case(uow):
    case_id = await routed(uow, category="public_security")  # not a mediation category
    with pytest.raises(Invalid) as e:
        await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation(case_id), jurisdiction=J)
    assert e.value.fields[0]["field"] == "category"
    await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation(case_id, category="neighbour"), jurisdiction=J)
    with pytest.raises(NotFound):
        await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation("nope"), jurisdiction=J)


async def test_mediation_confirmed_closes_the_case_and_failed_queues_it(uow):
    a, b = await routed(uow, category="family"), await routed(uow, category="family")
    for case_id in (a, b):
        await uc.refer_to_mediation(uow, DISPATCHER, ReferToMediation(case_id), jurisdiction=J)
    uow.take_events()
    ok = MediationConfirmed(mediation_id="m-1", case_id=a, category="family", at=uow.now(), application_id="ap-1",
                            ruling_no="(2026)确 1 号", court="QFY")
    await uc.on_mediation_confirmed(uow, env_of(ok), ok)
    resolved, closed_ev = uow.take_events()
    assert isinstance(resolved, CaseResolved) and isinstance(closed_ev, CaseClosed) and closed_ev.case_id == a
    assert (await uow.cases.get(a))["status"] == "closed"
    await uc.on_mediation_confirmed(uow, env_of(ok), ok)  # again: the case is no longer in mediation
    assert uow.take_events() == []

    failed = MediationFailed(mediation_id="m-2", case_id=b, category="family", at=uow.now(), handed_to="litigation")
    await uc.on_mediation_failed(uow, env_of(failed), failed)
    [queued] = uow.take_events()
    assert isinstance(queued, CaseQueued) and queued.reason == "mediation failed; handed to litigation"
    assert (await uow.cases.get(b))["status"] == "queued"
    await uc.on_mediation_failed(uow, env_of(failed), failed)
    assert uow.take_events() == []
    without_case = MediationFailed(mediation_id="m-3", category="family", at=uow.now(), handed_to="other")
    await uc.on_mediation_failed(uow, env_of(without_case), without_case)
    assert uow.take_events() == []


async def test_a_reopened_case_is_routed_again_with_a_fresh_clock(uow):
    case_id = await routed(uow, category="other")
    reopen = CaseReopened(case_id=case_id, case_no="WH-1", at=uow.now(), by=WORKER, reason="问题复发")
    await uc.on_case_reopened(uow, env_of(reopen), reopen, jurisdiction=J)  # not resolved: moot
    assert uow.take_events() == []
    await closed(uow, case_id)
    uow.clock.advance(timedelta(days=3))
    await uc.on_case_reopened(uow, env_of(reopen), reopen, jurisdiction=J)
    [dispatched] = uow.take_events()  # the verified order is not open: nothing to cancel
    assert isinstance(dispatched, OrderDispatched) and dispatched.department == "ZZB"
    case = await uow.cases.get(case_id)
    assert case["status"] == "routed" and case["clock_started_at"] == uow.now() and case["closed_at"] is None
    new = next(o for o in await uow.orders.of_case(case_id) if o["order_id"] == dispatched.order_id)
    assert new["clock_started_at"] == uow.now()
    assert "case.reopened" in [e["kind"] for e in await uow.timeline.of_case(case_id)]


async def test_a_merged_case_withdraws_its_orders(uow):
    case_id = await routed(uow, category="neighbour")
    merged = CaseMerged(case_id=case_id, case_no="WH-2", into_case_id="c-main", into_case_no="WH-1", at=uow.now(),
                        by=WORKER)
    await uc.on_case_merged(uow, env_of(merged), merged)
    events = uow.take_events()
    assert [type(e) for e in events] == [OrderCancelled, OrderCancelled]
    assert {e.reason for e in events} == {"merged into WH-1"}
    assert (await uow.cases.get(case_id))["status"] == "merged"
    await uc.on_case_merged(uow, env_of(merged), merged)  # twice: nothing more
    assert uow.take_events() == []
