"""Use cases on in-memory fakes: the timer loop's round with a ManualClock - reminder, overdue,
escalation to the street leader and the district, each once; a done step's timers are dropped."""

from datetime import timedelta

import pytest
from dispatch_fakes import FakeDispatchUoW, J, env_of, grid_event, officer
from fengqiao_dispatch.usecases import orders, routing, rules
from fengqiao_dispatch.usecases.commands import SignFor
from fengqiao_dispatch.usecases.timers import fire_due_timers
from fengqiao_events.payloads.order import DeadlineMissed, OrderEscalated, OrderReminded


@pytest.fixture
async def uow() -> FakeDispatchUoW:
    u = FakeDispatchUoW()
    await rules.seed_demo_rules(u, jurisdiction=J)
    return u


async def fire(uow, **kw) -> list:
    await fire_due_timers(uow, jurisdiction=J, replica="r1", **kw)
    return [(type(e).__name__, e.order_id, e.stage, getattr(e, "level", None)) for e in uow.take_events()]


async def wage_case(uow) -> dict[str, dict]:
    """labour, red: the wage rule (QRSJ leads, QFY assists); sign for in 15 min, on site in 30."""
    p = grid_event(category="labour", grade="red", summary="欠薪", description="工人讨薪")
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    uow.take_events()
    return {o["department"]: o for o in await uow.orders.of_case(p.case_id)}


async def test_reminder_overdue_and_escalations_fire_once_each(uow):
    by = await wage_case(uow)
    lead = by["QRSJ"]["order_id"]
    assert await fire(uow) == []  # nothing before its time
    uow.clock.advance(timedelta(minutes=12))  # 80 % of the sign-for limit
    fired = await fire(uow)
    assert sorted(fired) == sorted([("OrderReminded", o["order_id"], "sign_for", None) for o in by.values()])
    assert await fire(uow) == []  # once
    uow.clock.advance(timedelta(minutes=3))
    assert {f[0] for f in await fire(uow)} == {"DeadlineMissed"}
    uow.clock.advance(timedelta(minutes=8))  # 23 min: street leader (22.5); on-site reminder (24) not yet
    fired = await fire(uow)
    assert sorted(fired) == sorted([("OrderEscalated", o["order_id"], "sign_for", "street_leader")
                                    for o in by.values()])
    # the lead signs for (late): its sign-for district escalation is dropped, the assisting order's is not
    signed = await orders.sign_for(uow, officer("QRSJ"), SignFor(lead))
    assert signed["status"] == "signed"
    uow.take_events()
    uow.clock.advance(timedelta(minutes=7))  # 30 min: on-site reminder and overdue, district escalation
    fired = await fire(uow)
    assert ("OrderEscalated", by["QFY"]["order_id"], "sign_for", "district") in fired
    assert not [f for f in fired if f[1] == lead and f[2] == "sign_for"]
    assert {(f[0], f[2]) for f in fired if f[1] == lead} == {("OrderReminded", "on_site"), ("DeadlineMissed", "on_site")}
    district = next(e for e in uow.db.timeline if e["kind"] == "order.escalated"
                    and e["detail"]["level"] == "district")
    assert district["order_id"] == by["QFY"]["order_id"] and district["detail"]["escalate_to"] == ["QRSJ"]
    mine = [t for t in uow.db.timers if t["order_id"] == lead and t["stage"] == "sign_for"]
    assert [t["kind"] for t in mine if t["cancelled_at"]] == ["escalate_district"]
    assert all(t["fired_by"] == "r1" for t in mine if t["fired_at"])


async def test_a_timer_whose_step_is_done_meanwhile_is_dropped_not_fired(uow):
    by = await wage_case(uow)
    lead = by["QRSJ"]["order_id"]
    # signed for in a way that did not cancel the timers (a timer round held them): the round drops them
    await uow.orders.update(lead, status="signed")
    uow.clock.advance(timedelta(minutes=12))
    fired = await fire(uow)
    assert [f[1] for f in fired] == [by["QFY"]["order_id"]]
    reminder = next(t for t in uow.db.timers if t["order_id"] == lead and t["kind"] == "remind"
                    and t["stage"] == "sign_for")
    assert reminder["cancelled_at"] == uow.now() and reminder["fired_at"] is None


async def test_a_round_fires_at_most_a_batch_and_every_event_bumps_the_order_seq(uow):
    by = await wage_case(uow)
    uow.clock.advance(timedelta(minutes=16))  # two timers per order are due
    n = await fire_due_timers(uow, jurisdiction=J, batch_size=3)
    assert n == 3 and len(uow.take_events()) == 3
    assert await fire_due_timers(uow, jurisdiction=J, batch_size=3) == 1
    [last] = uow.take_events()
    assert isinstance(last, OrderReminded | DeadlineMissed | OrderEscalated)
    assert sorted(o["seq"] for o in uow.db.orders.values()) == [3, 3]
    assert sum(o["seq"] for o in by.values()) == 2
