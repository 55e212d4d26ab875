"""Response models of intake's routes (what the routes really return; /openapi.json documents them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fengqiao_common.jurisdiction import Area, Community, Department, Domain, ExternalSystem, Grade, Grid
from pydantic import BaseModel, PlainSerializer

# the JSON the routes gave before they had models: isoformat with the offset (+00:00), not "Z"
Timestamp = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json")]


class LocationOut(BaseModel):
    lat: float | None
    lon: float | None
    address: str | None


class CaseSummary(BaseModel):
    id: str
    case_no: str
    status: str
    open311_status: str
    channel: str
    sub_channel: str | None
    source_system: str | None
    external_ref: str | None
    category: str
    grade: str
    grade_reasons: list[str]
    keywords: list[str]
    district: str
    street: str
    community: str | None
    grid: str | None
    location: LocationOut
    summary: str
    description: str
    people_involved: int
    parties: list[dict[str, Any]]
    occurred_at: Timestamp | None
    reported_at: Timestamp
    status_at: Timestamp
    updated_at: Timestamp
    duplicate_of: str | None
    merged_into: str | None
    last_rating: str | None


class CaseCreated(CaseSummary):
    duplicate_flagged: bool


class CaseList(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class TimelineEntry(BaseModel):
    at: Timestamp
    kind: str
    status_effect: str | None
    actor: dict[str, Any] | None
    department: str | None
    note: str | None
    detail: dict[str, Any]


class AttachmentMeta(BaseModel):
    id: str
    case_id: str | None
    filename: str | None
    content_type: str
    kind: str
    size: int
    sha256: str
    created_at: Timestamp
    url: str


class CaseDetail(CaseSummary):
    timeline: list[TimelineEntry]
    attachments: list[AttachmentMeta]
    requesters: int
    duplicate_of_case_no: str | None
    merged_into_case_no: str | None


class AccessLogEntry(BaseModel):
    id: int
    at: Timestamp
    actor_id: str
    actor_kind: str
    actor_name: str | None
    role: str | None
    department: str | None
    action: str
    object_type: str
    object_id: str
    case_id: str | None
    case_no: str | None
    fields: list[str]
    purpose: str | None
    request_id: str | None
    client_address: str | None


class AccessLogPage(BaseModel):
    items: list[AccessLogEntry]
    total: int
    limit: int
    offset: int


class MergeResult(BaseModel):
    case: CaseSummary
    into: CaseSummary


class WeakSignalOut(BaseModel):
    id: str
    grid: str | None
    community: str | None
    category: str
    summary: str
    description: str
    people_involved: int
    reporter: dict[str, Any] | None
    reported_at: Timestamp


class WebhookOut(BaseModel):
    id: str
    external_system: str
    url: str
    active: bool
    created_at: Timestamp


class WebhookCreated(WebhookOut):
    secret: str


class AttemptOut(BaseModel):
    attempt: int
    at: Timestamp
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    event_id: str
    case_id: str
    status: str
    attempts: int
    next_attempt_at: Timestamp
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    delivered_at: Timestamp | None
    attempt_log: list[AttemptOut]


class RedeliverOut(BaseModel):
    id: str
    status: str


class CatalogueOut(BaseModel):
    province: Area
    city: Area
    district: Area
    street: Area
    communities: list[Community]
    grids: list[Grid]
    domains: list[Domain]
    grades: list[Grade]
    departments: list[Department]
    external_systems: list[ExternalSystem]


def file_response(media_type: str, description: str) -> dict:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}}
