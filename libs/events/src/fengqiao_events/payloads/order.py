"""Events owned by dispatch: orders to departments, their lifecycle, timers, case resolution.

Order events are keyed by **case id** so that every event of one case stays in order within a
topic; the department code also travels as the ``ce_department`` header so a department's own
consumer can filter without parsing the body. ``seq`` numbers an order's events (1, 2, 3 ...) so a
consumer reading several topics can ignore a stale one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..registry import register
from . import Payload
from .common import Actor, Grade, Location

Stage = Literal["sign_for", "on_site", "resolve"]


class Deadlines(Payload):
    sign_for_by: datetime | None = None
    on_site_by: datetime | None = None
    resolve_by: datetime | None = None


class OrderRef(Payload):
    order_id: str
    case_id: str
    case_no: str | None = None
    department: str
    seq: int = Field(1, description="position of this event in the order's history")
    at: datetime
    by: Actor | None = None


@register(
    "order.dispatched",
    key="case_id",
    owner="dispatch",
    description="The centre ordered a department to act on a case (发令). Keyed by case id; "
    "header ce_department names the department.",
    extensions=("department",),
)
class OrderDispatched(OrderRef):
    department_name: str
    level: Literal["street", "district"]
    role: Literal["lead", "assist"]
    category: str
    grade: Grade
    summary: str
    description: str
    grid: str | None = None
    community: str | None = None
    location: Location = Field(default_factory=Location)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    rule_id: str | None = None
    rule_version: int | None = None
    on_site_required: bool = True
    reroute_of: str | None = Field(None, description="order this one replaces after a return")


@register("order.signed", key="case_id", owner="dispatch", extensions=("department",),
          description="A department officer signed for an order (签收).")
class OrderSigned(OrderRef):
    officer: str
    within_limit: bool = True


@register("department.checked-in", key="case_id", owner="dispatch", extensions=("department",),
          description="A department reported on site (报到) for an order.")
class DepartmentCheckedIn(OrderRef):
    officer: str
    location: Location = Field(default_factory=Location)
    within_limit: bool = True


@register("order.progressed", key="case_id", owner="dispatch", extensions=("department",),
          description="A department recorded progress on an order (notes, photos).")
class OrderProgressed(OrderRef):
    note: str
    attachments: list[str] = Field(default_factory=list)


@register("order.resolved", key="case_id", owner="dispatch", extensions=("department",),
          description="A department reported the result of an order.")
class OrderResolved(OrderRef):
    result: str
    evidence: list[str] = Field(default_factory=list)
    within_limit: bool = True


@register("order.returned", key="case_id", owner="dispatch", extensions=("department",),
          description="A department returned an order with a reason (退单); the dispatcher re-routes.")
class OrderReturned(OrderRef):
    reason: str


@register("order.verified", key="case_id", owner="dispatch", extensions=("department",),
          description="The centre verified a department's result; the order is closed.")
class OrderVerified(OrderRef):
    accepted: bool = True
    comment: str | None = None


@register("order.reminded", key="case_id", owner="dispatch", extensions=("department",),
          description="A time limit is near: a reminder (催办) was sent.")
class OrderReminded(OrderRef):
    stage: Stage
    due_at: datetime


@register("deadline.missed", key="case_id", owner="dispatch", extensions=("department",),
          description="A time limit passed without the step being done.")
class DeadlineMissed(OrderRef):
    stage: Stage
    due_at: datetime


@register("order.escalated", key="case_id", owner="dispatch", extensions=("department",),
          description="An overdue order was escalated (督办) to the next level.")
class OrderEscalated(OrderRef):
    stage: Stage
    due_at: datetime
    level: Literal["street_leader", "district"]
    escalate_to: list[str] = Field(default_factory=list,
                                   description="departments supervising at this level (district escalation)")


@register("order.cancelled", key="case_id", owner="dispatch", extensions=("department",),
          description="An open order was withdrawn (its case was merged, transferred to mediation or reopened).")
class OrderCancelled(OrderRef):
    reason: str


@register("case.queued", key="case_id", owner="dispatch",
          description="No routing rule matched (or an order was returned): the case waits for manual dispatch.")
class CaseQueued(Payload):
    case_id: str
    case_no: str | None = None
    reason: str
    at: datetime


@register("case.resolved", key="case_id", owner="dispatch",
          description="The lead order is resolved and every assisting order is done.")
class CaseResolved(Payload):
    case_id: str
    case_no: str | None = None
    at: datetime
    departments: list[str] = Field(default_factory=list)


@register("case.closed", key="case_id", owner="dispatch",
          description="The centre verified every order of the case: the loop is closed.")
class CaseClosed(Payload):
    case_id: str
    case_no: str | None = None
    at: datetime
    by: Actor | None = None


@register("mediation.referred", key="case_id", owner="dispatch",
          description="A case was transferred to mediation; the mediation service opens a referral.")
class MediationReferred(Payload):
    referral_id: str
    case_id: str
    case_no: str | None = None
    category: str = Field(description="mediation category code")
    summary: str
    grid: str | None = None
    community: str | None = None
    at: datetime
    by: Actor | None = None
