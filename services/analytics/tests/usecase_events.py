"""Small event builders for the use-case unit tests (envelopes as the consumer hands them over)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fengqiao_events import new_envelope
from fengqiao_events.payloads import case as C
from fengqiao_events.payloads import mediation as M
from fengqiao_events.payloads import order as O

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai, a Monday


def env(payload):
    return new_envelope(payload, source="/fengqiao/test")


def item(payload):
    e = env(payload)
    return e, payload


def report(case_id: str | None = None, *, grid: str = "WH-01", community: str = "C01", category: str = "other",
           grade: str = "yellow", at: datetime = T0, people: int = 0, requester: str | None = None,
           summary: str = "邻里噪音", keywords: list[str] | None = None):
    cid = case_id or str(uuid.uuid4())
    return item(C.GridEventReported(
        case_id=cid, case_no=f"N{cid[:6]}", channel="grid_app", category=category, grade=grade, grid=grid,
        community=community, street="WH", district="JH", summary=summary, description="测试",
        people_involved=people, reported_at=at, requester_ref=requester, keywords=keywords or []))


def order(topic: str, case_id: str, order_id: str, *, department: str = "SFS", seq: int = 1,
          at: datetime = T0 + timedelta(minutes=5), **kw):
    ref = dict(order_id=order_id, case_id=case_id, case_no=f"N{case_id[:6]}", department=department, seq=seq, at=at)
    model = {
        "order.dispatched": lambda: O.OrderDispatched(
            **ref, department_name="司法所", level="street", role="lead", category=kw.get("category", "other"),
            grade="yellow", summary="s", description="d", grid=kw.get("grid", "WH-01"),
            community=kw.get("community", "C01"), on_site_required=kw.get("on_site_required", True)),
        "order.signed": lambda: O.OrderSigned(**ref, officer="李四", within_limit=kw.get("within_limit", True)),
        "order.resolved": lambda: O.OrderResolved(**ref, result="ok", within_limit=kw.get("within_limit", True)),
        "order.returned": lambda: O.OrderReturned(**ref, reason="不属本部门"),
        "order.escalated": lambda: O.OrderEscalated(**ref, stage="sign_for", due_at=at, level="street_leader"),
        "deadline.missed": lambda: O.DeadlineMissed(**ref, stage="sign_for", due_at=at),
    }[topic]()
    return item(model)


def resolved(case_id: str, at: datetime):
    return item(O.CaseResolved(case_id=case_id, case_no=f"N{case_id[:6]}", at=at))


def mediation(topic: str, case_id: str, *, category: str = "neighbour", at: datetime = T0, **kw):
    ref = dict(mediation_id=str(uuid.uuid4()), case_id=case_id, category=category, at=at)
    model = {
        "mediation.booked": lambda: M.MediationBooked(**ref, booking_id="b1", mediator_id="m1", starts_at=at,
                                                      ends_at=at + timedelta(hours=1), mode=kw.get("mode", "centre")),
        "judicial.applied": lambda: M.JudicialApplied(**ref, application_id="a1", court="QFY"),
        "judicial-material.requested": lambda: M.JudicialMaterialRequested(**ref, application_id="a1",
                                                                           request="补充身份证明"),
        "judicial.reminded": lambda: M.JudicialReminded(**ref, kind="judicial_apply_3d", deadline=at),
    }[topic]()
    return item(model)


def weak_signal(*, grid: str = "WH-01", category: str = "other", at: datetime = T0, people: int = 0):
    return item(C.WeakSignalReported(signal_id=str(uuid.uuid4()), grid=grid, community="C01", category=category,
                                     summary="苗头", description="d", people_involved=people, reported_at=at))
