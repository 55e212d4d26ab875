"""Response models of the dispatch API: exactly what the routes return (the tables' columns).

Timestamps are written as ``datetime.isoformat()`` (``+00:00``), as the API always has."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainSerializer, WithJsonSchema


def _iso(t: datetime) -> str:
    return t.isoformat()


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json"),
                      WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")]
Json = dict[str, Any]


class OrderOut(BaseModel):
    """An order to a department (status: dispatched, signed, on_site, in_progress, resolved, verified,
    returned, cancelled)."""

    order_id: str
    case_id: str
    department: str
    department_name: str
    level: str
    role: str
    status: str
    seq: int
    rule_id: str | None = None
    rule_version: int | None = None
    dispatched_by: Json | None = None
    on_site_required: bool
    clock_started_at: Timestamp
    sign_for_by: Timestamp | None = None
    on_site_by: Timestamp | None = None
    resolve_by: Timestamp | None = None
    signed_by: str | None = None
    signed_at: Timestamp | None = None
    checked_in_by: str | None = None
    checked_in_at: Timestamp | None = None
    check_in_location: Json | None = None
    resolved_at: Timestamp | None = None
    result: str | None = None
    evidence: list[str] | None = None
    verified_at: Timestamp | None = None
    return_reason: str | None = None
    returned_at: Timestamp | None = None
    reroute_of: str | None = None
    created_at: Timestamp
    updated_at: Timestamp


class TimelineEntry(BaseModel):
    id: int
    case_id: str
    order_id: str | None = None
    kind: str
    actor: Json | None = None
    at: Timestamp
    detail: Json


class TimerOut(BaseModel):
    id: int
    order_id: str
    case_id: str
    stage: str
    kind: str
    due_at: Timestamp
    fired_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    fired_by: str | None = None


class CaseBrief(BaseModel):
    case_id: str
    case_no: str | None = None
    category: str
    grade: str
    summary: str
    description: str
    grid: str | None = None
    community: str | None = None
    location: Json
    people_involved: int
    status: str
    clock_started_at: Timestamp


class QueuedCase(CaseBrief):
    queue_reason: str | None = None


class OrderView(OrderOut):
    case: CaseBrief
    history: list[TimelineEntry]


class CaseView(BaseModel):
    """A case as dispatch knows it (status: new, routed, queued, resolved, closed, mediation, merged)."""

    case_id: str
    case_no: str | None = None
    category: str
    grade: str
    summary: str
    description: str
    grid: str | None = None
    community: str | None = None
    location: Json
    people_involved: int
    keywords: list[str]
    status: str
    queue_reason: str | None = None
    clock_started_at: Timestamp
    reported_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp
    orders: list[OrderOut]
    timeline: list[TimelineEntry]
    escalations: list[TimelineEntry]
    timers: list[TimerOut]


class Escalation(TimelineEntry):
    department: str
    order_status: str


class ReferralOut(BaseModel):
    referral_id: str
    case_id: str
    category: str
    at: Timestamp


class RuleOut(BaseModel):
    """One version of a routing rule: its body and who saved it when."""

    rule_id: str
    version: int
    deleted: bool
    created_by: str | None = None
    created_at: Timestamp
    name: str
    domain: str
    areas: list[str] = []
    grades: list[Literal["red", "orange", "yellow", "blue"]] = []
    min_people: int | None = None
    keywords_any: list[str] = []
    match: Literal["all", "any"] = "all"
    lead: str
    assist: list[str] = []
    on_site_required: bool = True
    priority: int = 0
    enabled: bool = True
