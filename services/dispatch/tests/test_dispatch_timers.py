"""Time limits driven by a manual clock: reminder, overdue, escalation; working days across a holiday;
a restart in the middle of a timer; two replicas firing the same timers."""

import asyncio
from datetime import UTC, datetime, timedelta

from dispatch_testkit import BASE, DISPATCHER, LEADER, officer, running_dispatch, shared
from fengqiao_common.clock import ManualClock
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_dispatch.config import Settings

TIMER_TOPICS = ["order.reminded", "deadline.missed", "order.escalated"]


def fired(probe: EventProbe, order_id: str) -> list[tuple[str, str, str | None]]:
    return sorted((e.topic, e.data["stage"], e.data.get("level")) for e in probe.envelopes()
                  if e.topic in TIMER_TOPICS and e.data.get("order_id") == order_id)


async def test_reminder_overdue_and_escalation_each_fire_once(dispatch, clock):
    c = dispatch.client
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="public_security", grade="red", grid="WH-11", community="C11",
                                  summary="群体聚集", description="夜市聚集冲突")
        orders = await dispatch.orders_of(p.case_id, 2)
        lead = next(o for o in orders if o["role"] == "lead")
        oid = lead["order_id"]
        await asyncio.sleep(0.5)
        assert fired(probe, oid) == []  # nothing before its time
        clock.advance(timedelta(minutes=12))  # 80 % of the 15-minute sign-for limit
        await probe.wait_for(lambda e: e.data.get("order_id") == oid and e.topic == "order.reminded")
        assert fired(probe, oid) == [("order.reminded", "sign_for", None)]
        clock.advance(timedelta(minutes=3))  # 15 min: overdue
        await probe.wait_for(lambda e: e.data.get("order_id") == oid and e.topic == "deadline.missed")
        r = await c.get("/api/v1/dispatch/overdue", headers=DISPATCHER)
        assert oid in [o["order_id"] for o in r.json()]
        r = await c.get("/api/v1/dispatch/overdue", headers=officer("PCS"))
        assert oid in [o["order_id"] for o in r.json()] and {o["department"] for o in r.json()} == {"PCS"}
        clock.advance(timedelta(minutes=8))  # 23 min: escalated to the street leader; on-site reminder (24) not yet
        await probe.wait_for(lambda e: e.data.get("order_id") == oid and e.topic == "order.escalated")
        assert fired(probe, oid) == [("deadline.missed", "sign_for", None), ("order.escalated", "sign_for", "street_leader"),
                                     ("order.reminded", "sign_for", None)]
        # signing for, late, stops the sign-for timers; the on-site limit keeps running
        r = await c.post(f"/api/v1/orders/{oid}/sign-for", headers=officer("PCS"))
        assert r.status_code == 200
        clock.advance(timedelta(minutes=8))  # 31 min: on-site reminder and overdue, no district escalation of sign-for
        await probe.wait_for(lambda e: e.data.get("order_id") == oid and e.topic == "deadline.missed"
                             and e.data.get("stage") == "on_site")
        await asyncio.sleep(0.5)
        assert fired(probe, oid) == [
            ("deadline.missed", "on_site", None), ("deadline.missed", "sign_for", None),
            ("order.escalated", "sign_for", "street_leader"), ("order.reminded", "on_site", None),
            ("order.reminded", "sign_for", None)]
        clock.advance(timedelta(minutes=30))  # 61 min: on-site escalated to street leader (45) and district (60)
        await probe.wait_for(lambda e: e.data.get("order_id") == oid and e.data.get("level") == "district")
        district = next(e for e in probe.envelopes("order.escalated")
                        if e.data["order_id"] == oid and e.data["level"] == "district")
        assert district.extensions["department"] == "PCS"
        assert district.data["stage"] == "on_site"
        await asyncio.sleep(0.5)
    events = fired(probe, oid)
    assert len(events) == len(set(events)), "every timer fired once"
    case = await dispatch.case(p.case_id)
    assert [(e["detail"]["stage"], e["detail"]["level"]) for e in case["escalations"] if e["order_id"] == oid] == [
        ("sign_for", "street_leader"), ("on_site", "street_leader"), ("on_site", "district")]
    r = await c.get("/api/v1/dispatch/escalations", headers=LEADER)
    assert oid in [x["order_id"] for x in r.json()]
    mine = [t for t in case["timers"] if t["order_id"] == oid]
    assert all(t["fired_at"] or t["cancelled_at"] or t["stage"] == "resolve" for t in mine)
    assert sum(1 for t in mine if t["stage"] == "sign_for" and t["cancelled_at"]) == 1  # district escalation


async def test_working_day_limits_skip_the_national_day_holiday(dispatch, clock):
    # Wednesday 30 Sep 2026, 15:00 Beijing time; yellow: on site within 1 working day, resolve in 7.
    clock.set(datetime(2026, 9, 30, 7, 0, tzinfo=UTC))
    async with dispatch.probe() as probe:
        p = await dispatch.report(category="land_housing", grade="yellow", grid="WH-30", community="C08")
        orders = await dispatch.orders_of(p.case_id, 2)
        lead = next(o for o in orders if o["role"] == "lead")
        oid = lead["order_id"]
        assert datetime.fromisoformat(lead["sign_for_by"]) == datetime(2026, 9, 30, 11, 0, tzinfo=UTC)  # 4 h
        # 1 working day later is Thursday 8 Oct (1-7 Oct are off), 7 working days end on Thursday 15 Oct,
        # counting the make-up Saturday 10 Oct
        assert datetime.fromisoformat(lead["on_site_by"]) == datetime(2026, 10, 8, 7, 0, tzinfo=UTC)
        assert datetime.fromisoformat(lead["resolve_by"]) == datetime(2026, 10, 15, 7, 0, tzinfo=UTC)
        h = officer(lead["department"])
        assert (await dispatch.client.post(f"/api/v1/orders/{oid}/sign-for", headers=h)).status_code == 200
        clock.set(datetime(2026, 10, 8, 6, 59, tzinfo=UTC))  # a minute before: still within the limit
        await asyncio.sleep(0.6)
        assert not [e for e in probe.envelopes("deadline.missed") if e.data.get("order_id") == oid]
        clock.set(datetime(2026, 10, 8, 7, 1, tzinfo=UTC))
        [missed] = await probe.wait_for(lambda e: e.topic == "deadline.missed" and e.data.get("order_id") == oid)
        assert missed.data["stage"] == "on_site"
        assert datetime.fromisoformat(missed.data["due_at"]) == datetime(2026, 10, 8, 7, 0, tzinfo=UTC)


async def test_restart_in_the_middle_of_a_timer_and_two_replicas_fire_once(service_settings, events):
    settings = await service_settings(Settings, "dispatch", suffix="restart", demo_data=True, timer_poll_interval=0.1,
                                      consumer_group="dispatch-restart-tests")
    clock = ManualClock(BASE)
    async with shared(events) as probe:
        async with running_dispatch(settings, clock) as a:
            p = await a.report(category="labour", grade="red", summary="欠薪", description="工人讨薪")
            orders = await a.orders_of(p.case_id, 2)
            oids = {o["order_id"] for o in orders}
            clock.advance(timedelta(minutes=13))  # past the sign-for reminders, before the limit
            await probe.wait_for(lambda e: e.data.get("order_id") in oids and e.topic == "order.reminded", count=2)
        # the service is down while the sign-for limit passes
        clock.advance(timedelta(minutes=3))
        # two replicas come back and both run the timer loop. (Without their Kafka consumers: the order
        # exists already, and a new member of the old group waits ~20 s on Tansu for the stopped one to expire.)
        timers_only = settings.model_copy(update={"run_consumers": False})
        async with running_dispatch(timers_only, clock), running_dispatch(timers_only, clock):
            await probe.wait_for(lambda e: e.data.get("order_id") in oids and e.topic == "deadline.missed", count=2)
            clock.advance(timedelta(minutes=10))  # 26 min: street-leader escalation and on-site reminders
            await probe.wait_for(lambda e: e.data.get("order_id") in oids and e.topic == "order.escalated", count=2)
            await probe.wait_for(lambda e: e.data.get("order_id") in oids and e.data.get("stage") == "on_site", count=2)
            await asyncio.sleep(1.0)
        for oid in oids:
            assert fired(probe, oid) == [("deadline.missed", "sign_for", None),
                                         ("order.escalated", "sign_for", "street_leader"),
                                         ("order.reminded", "on_site", None), ("order.reminded", "sign_for", None)]

    async def fired_by():
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text(
                    "SELECT fired_by FROM timers WHERE case_id = :c AND fired_at IS NOT NULL"), {"c": p.case_id})).all()
        finally:
            await engine.dispose()
        return rows

    rows = await eventually(fired_by)
    assert len(rows) == 8 and all(r[0] for r in rows)
