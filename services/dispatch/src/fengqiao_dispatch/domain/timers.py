"""The timers derived from an order's deadlines: a reminder before each limit (催办), the overdue mark
at it, and escalation (督办) after it: first to the street leader, then to the district."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events.payloads.common import SYSTEM
from fengqiao_events.payloads.order import DeadlineMissed, OrderEscalated, OrderReminded

REMIND = "remind"
OVERDUE = "overdue"
ESCALATE_STREET = "escalate_street_leader"
ESCALATE_DISTRICT = "escalate_district"
KINDS = (REMIND, OVERDUE, ESCALATE_STREET, ESCALATE_DISTRICT)

# Which order statuses mean a stage is done (its timers no longer fire).
DONE_AFTER = {
    "sign_for": {"signed", "on_site", "in_progress", "resolved", "verified"},
    "on_site": {"on_site", "in_progress", "resolved", "verified"},
    "resolve": {"resolved", "verified"},
}
CLOSED = {"returned", "cancelled", "verified"}


@dataclass(frozen=True)
class TimerPolicy:
    """Fractions of a stage's span (from the order's clock start to the deadline)."""

    remind_at: float = 0.8  # remind when 80 % of the time is used
    escalate_street_after: float = 0.5  # escalate to the street leader 50 % of the span after the deadline
    escalate_district_after: float = 1.0  # and to the district one whole span after it
    min_gap: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class TimerPlan:
    stage: str
    kind: str
    due_at: datetime


def plan(stage: str, start: datetime, deadline: datetime, policy: TimerPolicy = TimerPolicy()) -> list[TimerPlan]:
    span = max(deadline - start, timedelta(0))
    after = max(span, policy.min_gap)
    return [
        TimerPlan(stage, REMIND, start + span * policy.remind_at),
        TimerPlan(stage, OVERDUE, deadline),
        TimerPlan(stage, ESCALATE_STREET, deadline + after * policy.escalate_street_after),
        TimerPlan(stage, ESCALATE_DISTRICT, deadline + after * policy.escalate_district_after),
    ]


def still_due(stage: str, order_status: str) -> bool:
    """A stage's timer fires only while the order is open and the stage not done."""
    return order_status not in CLOSED and order_status not in DONE_AFTER[stage]


def alarm(timer: dict, order: dict, case: dict, seq: int, now: datetime, j: Jurisdiction
          ) -> tuple[OrderReminded | DeadlineMissed | OrderEscalated, str, dict[str, Any]]:
    """The event a due timer raises (reminder, overdue, escalation), its timeline kind and detail.
    The district escalation goes to the domain's ``escalate_to`` departments (not the order's own)."""
    ref = dict(order_id=order["order_id"], case_id=order["case_id"], department=order["department"], seq=seq,
               at=now, by=SYSTEM, case_no=case["case_no"], stage=timer["stage"], due_at=timer["due_at"])
    detail: dict[str, Any] = {"stage": timer["stage"], "due_at": timer["due_at"].isoformat(),
                              "deadline": order[f"{timer['stage']}_by"].isoformat()}
    if timer["kind"] == REMIND:
        return OrderReminded(**ref), "order.reminded", detail
    if timer["kind"] == OVERDUE:
        return DeadlineMissed(**ref), "deadline.missed", detail
    level = "street_leader" if timer["kind"] == ESCALATE_STREET else "district"
    dom = j.domain(case["category"])
    to = [d for d in (dom.escalate_to if dom else []) if d != order["department"]] if level == "district" else []
    detail.update(level=level, escalate_to=to)
    return OrderEscalated(**ref, level=level, escalate_to=to), "order.escalated", detail
