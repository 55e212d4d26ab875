"""Events owned by dispatch: orders to departments, their lifecycle, timers, case resolution.

Order events are keyed by **case id** so that every event of one case stays in order within a
topic; the department code also travels as the ``ce_department`` header so a department's own
consumer can filter without parsing the body. ``seq`` numbers an order's events (1, 2, 3 ...) so a
consumer reading several topics can ignore a stale one.

Every order event is also delivered to its department's own topic ``dept.<code>.orders`` (registry:
``department_topic``), which only that department's Kafka principal reads. ``order.dispatched`` names its
personal data ``private`` (summary and description: free text a resident wrote; location: address and exact
coordinates): they travel on the department's topic only; the core topic keeps case number, category,
grade, grid, community, deadlines and ids (details through the authenticated API).
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
    "order.dispatched", label_zh="派单", label_en="order dispatched",
    key="case_id",
    owner="dispatch",
    description="The centre ordered a department to act on a case (发令). Keyed by case id; "
    "header ce_department names the department. summary, description and location travel only on the "
    "department's topic dept.<code>.orders.",
    extensions=("department",),
    private=("summary", "description", "location"),
)
class OrderDispatched(OrderRef):
    department_name: str
    level: Literal["street", "district"]
    role: Literal["lead", "assist"]
    category: str
    grade: Grade
    summary: str | None = Field(None, description="only on the department's topic")
    description: str | None = Field(None, description="only on the department's topic")
    grid: str | None = None
    community: str | None = None
    location: Location = Field(default_factory=Location, description="only on the department's topic")
    deadlines: Deadlines = Field(default_factory=Deadlines)
    rule_id: str | None = None
    rule_version: int | None = None
    on_site_required: bool = True
    reroute_of: str | None = Field(None, description="order this one replaces after a return")


@register("order.signed", label_zh="部门签收", label_en="order signed for", key="case_id", owner="dispatch", extensions=("department",),
          description="A department officer signed for an order (签收).")
class OrderSigned(OrderRef):
    officer: str
    within_limit: bool = True


@register("department.checked-in", label_zh="部门到场报到", label_en="department on site", key="case_id", owner="dispatch", extensions=("department",),
          description="A department reported on site (报到) for an order.")
class DepartmentCheckedIn(OrderRef):
    officer: str
    location: Location = Field(default_factory=Location)
    within_limit: bool = True


@register("order.progressed", label_zh="处置进展", label_en="progress reported", key="case_id", owner="dispatch", extensions=("department",),
          description="A department recorded progress on an order (notes, photos).")
class OrderProgressed(OrderRef):
    note: str
    attachments: list[str] = Field(default_factory=list)


@register("order.resolved", label_zh="部门办结", label_en="department reported a result", key="case_id", owner="dispatch", extensions=("department",),
          description="A department reported the result of an order.")
class OrderResolved(OrderRef):
    result: str
    evidence: list[str] = Field(default_factory=list)
    within_limit: bool = True


@register("order.returned", label_zh="退单", label_en="order returned", key="case_id", owner="dispatch", extensions=("department",),
          description="A department returned an order with a reason (退单); the dispatcher re-routes.")
class OrderReturned(OrderRef):
    reason: str


@register("order.verified", label_zh="中心核验", label_en="result verified", key="case_id", owner="dispatch", extensions=("department",),
          description="The centre verified a department's result; the order is closed.")
class OrderVerified(OrderRef):
    accepted: bool = True
    comment: str | None = None


@register("order.reminded", label_zh="催办", label_en="reminder sent", key="case_id", owner="dispatch", extensions=("department",),
          description="A time limit is near: a reminder (催办) was sent.")
class OrderReminded(OrderRef):
    stage: Stage
    due_at: datetime


@register("deadline.missed", label_zh="超时", label_en="time limit missed", key="case_id", owner="dispatch", extensions=("department",),
          description="A time limit passed without the step being done.")
class DeadlineMissed(OrderRef):
    stage: Stage
    due_at: datetime


@register("order.escalated", label_zh="督办升级", label_en="escalated", key="case_id", owner="dispatch", extensions=("department",),
          description="An overdue order was escalated (督办) to the next level.")
class OrderEscalated(OrderRef):
    stage: Stage
    due_at: datetime
    level: Literal["street_leader", "district"]
    escalate_to: list[str] = Field(default_factory=list,
                                   description="departments supervising at this level (district escalation)")


@register("order.cancelled", label_zh="撤销派单", label_en="order withdrawn", key="case_id", owner="dispatch", extensions=("department",),
          description="An open order was withdrawn (its case was merged, transferred to mediation or reopened).")
class OrderCancelled(OrderRef):
    reason: str


@register("case.queued", label_zh="等待人工派单", label_en="waiting for manual dispatch", key="case_id", owner="dispatch",
          description="No routing rule matched (or an order was returned): the case waits for manual dispatch.")
class CaseQueued(Payload):
    case_id: str
    case_no: str | None = None
    reason: str
    at: datetime


@register("case.resolved", label_zh="案件办结", label_en="case resolved", key="case_id", owner="dispatch",
          description="The lead order is resolved and every assisting order is done.")
class CaseResolved(Payload):
    case_id: str
    case_no: str | None = None
    at: datetime
    departments: list[str] = Field(default_factory=list)


@register("case.closed", label_zh="案件结案", label_en="case closed", key="case_id", owner="dispatch",
          description="The centre verified every order of the case: the loop is closed.")
class CaseClosed(Payload):
    case_id: str
    case_no: str | None = None
    at: datetime
    by: Actor | None = None


@register("mediation.referred", label_zh="转人民调解", label_en="referred to mediation", key="case_id", owner="dispatch",
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
