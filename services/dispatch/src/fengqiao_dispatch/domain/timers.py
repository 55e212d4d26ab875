"""The timers derived from an order's deadlines: a reminder before each limit (催办), the overdue mark
at it, and escalation (督办) after it: first to the street leader, then to the district."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
