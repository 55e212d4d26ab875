"""The consumer's use case on in-memory fakes: events onto the timeline, status fold, webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

from fengqiao_events.payloads.mediation import SessionSealed
from fengqiao_events.payloads.order import (
    CaseClosed,
    CaseResolved,
    DepartmentCheckedIn,
    OrderDispatched,
    OrderReturned,
)
from fengqiao_events.registry import all_specs
from fengqiao_intake import consumers
from fengqiao_intake.domain.status import EFFECTS
from fengqiao_intake.domain.timeline import LOCAL_LABELS, note
from fengqiao_intake.usecases.status import record_event
from intake_usecase_kit import SYSTEM, envelope, new_case, world


def _dispatched(case, at, order_id="o1", seq=1):
    return OrderDispatched(order_id=order_id, case_id=case["id"], case_no=case["case_no"], department="RSS", seq=seq,
                           at=at, department_name="外海人社所", level="street", role="lead",
                           category=case["category"], grade=case["grade"], summary="s", description="d",
                           deadlines={"resolve_by": at + timedelta(days=1)})


async def test_an_event_becomes_a_timeline_entry_and_moves_the_status():
    uow, c, _ = world()
    case = await new_case(uow, c)
    at = uow.now() + timedelta(seconds=10)
    assert await record_event(uow, envelope(_dispatched(case, at)), _dispatched(case, at))
    row = uow.db.cases[case["id"]]
    assert row["status"] == "dispatched"
    entry = uow.db.timeline[-1]
    assert entry["kind"] == "order.dispatched" and entry["status_effect"] == "dispatched"
    assert entry["note"] == "派单 / order dispatched: 外海人社所" and entry["detail"]["order_id"] == "o1"
    assert entry["department"] == "RSS"


async def test_the_same_event_twice_counts_once():
    uow, c, _ = world()
    case = await new_case(uow, c)
    p = _dispatched(case, uow.now())
    env = envelope(p)
    assert await record_event(uow, env, p)
    assert not await record_event(uow, env, p)
    assert [t["kind"] for t in uow.db.timeline].count("order.dispatched") == 1


async def test_events_in_any_order_give_the_same_status():
    uow, c, _ = world()
    case = await new_case(uow, c)
    t0 = uow.now()
    closed = CaseClosed(case_id=case["id"], at=t0 + timedelta(seconds=40))
    checked = DepartmentCheckedIn(order_id="o1", case_id=case["id"], department="RSS", officer="officer-1",
                                  at=t0 + timedelta(seconds=20))
    resolved = CaseResolved(case_id=case["id"], at=t0 + timedelta(seconds=30))
    for p in (closed, checked, resolved, _dispatched(case, t0 + timedelta(seconds=10))):
        await record_event(uow, envelope(p), p)
    assert uow.db.cases[case["id"]]["status"] == "closed"
    late_return = OrderReturned(order_id="o1", case_id=case["id"], department="RSS", reason="非本部门职责",
                                at=t0 + timedelta(seconds=5))
    await record_event(uow, envelope(late_return), late_return)
    assert uow.db.cases[case["id"]]["status"] == "closed"


async def test_timeline_only_events_and_unknown_cases_change_no_status():
    uow, c, _ = world()
    case = await new_case(uow, c)
    sealed = SessionSealed(mediation_id="m1", case_id=case["id"], category="labour", session_id="s1", seq=1,
                           record_hash="abc", at=uow.now())
    assert await record_event(uow, envelope(sealed, "/fengqiao/mediation"), sealed)
    assert uow.db.cases[case["id"]]["status"] == "reported"
    assert uow.db.timeline[-1]["kind"] == "session.sealed" and uow.db.timeline[-1]["status_effect"] is None
    ghost = CaseClosed(case_id="no-such-case", at=uow.now())
    assert not await record_event(uow, envelope(ghost), ghost)


async def test_a_status_change_queues_one_delivery_per_active_webhook_of_the_requesting_system():
    uow, c, _ = world()
    for hid, system, active in (("h1", "yue-sheng-shi", True), ("h2", "yue-sheng-shi", False),
                                ("h3", "yue-shang-tong", True)):
        uow.db.webhooks[hid] = {"id": hid, "external_system": system, "active": active, "url": "https://x",
                                "secret": "s", "created_at": uow.now()}
    case = await new_case(uow, c, SYSTEM)
    p = _dispatched(case, uow.now())
    await record_event(uow, envelope(p), p)
    [d] = uow.db.deliveries.values()
    body = json.loads(d["body"])
    assert d["webhook_id"] == "h1" and d["status"] == "pending"
    assert body["status"] == "dispatched" and body["previous_status"] == "reported"
    assert body["case_no"] == case["case_no"] and body["open311_status"] == "open"


def test_the_consumer_follows_every_registered_event_of_its_owners_or_ignores_it():
    followed = {s.topic for s in all_specs() if s.owner in consumers.FOLLOWS}
    [spec] = consumers.specs(None)
    assert set(spec.handlers) | spec.ignores == followed
    assert not set(spec.handlers) & spec.ignores
    assert set(spec.handlers) == set(EFFECTS)


def test_timeline_notes_use_the_registry_labels():
    by_topic = {s.topic: s for s in all_specs()}
    for topic in EFFECTS:
        assert note(topic) == by_topic[topic].label
    assert note("case.merged_in", "X") == f"{' / '.join(LOCAL_LABELS['case.merged_in'])}: X"
    assert not set(LOCAL_LABELS) & set(by_topic)
