"""Events owned by intake: cases (grid events, petitions, external demands) and their lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..registry import register
from . import Payload
from .common import Actor, Grade, Location

Channel = Literal["grid_app", "petition", "external", "open311"]


@register(
    "grid.event.reported", label_zh="受理登记", label_en="case registered",
    key="case_id",
    owner="intake",
    description="A report (grid event, walk-in petition, external demand or Open311 request) was "
    "accepted and became a case. Keyed by case id.",
    extensions=("category", "grade"),
)
class GridEventReported(Payload):
    case_id: str
    case_no: str
    channel: Channel
    sub_channel: str | None = Field(None, description="walk-in channel: visit, letter, phone, online")
    source_system: str | None = Field(None, description="external system code, when submitted by one")
    category: str = Field(description="domain code from the jurisdiction catalogue")
    grade: Grade
    grade_reasons: list[str] = Field(default_factory=list)
    grid: str | None = None
    community: str | None = None
    street: str
    district: str
    location: Location = Field(default_factory=Location)
    summary: str = Field(description="short title, no personal data")
    description: str
    people_involved: int = 0
    keywords: list[str] = Field(default_factory=list)
    occurred_at: datetime | None = None
    reported_at: datetime
    reporter: Actor | None = None
    requester_ref: str | None = Field(None, description="stable pseudonymous id of the requester (hash)")
    duplicate_of: str | None = Field(None, description="open case this report was flagged as a duplicate of")


@register(
    "weak-signal.reported", label_zh="上报弱信号", label_en="weak signal reported",
    key="signal_id",
    owner="intake",
    description="A grid worker reported an early sign of risk (not an event to dispatch).",
)
class WeakSignalReported(Payload):
    signal_id: str
    grid: str | None = None
    community: str | None = None
    category: str
    summary: str
    description: str
    people_involved: int = 0
    reported_at: datetime
    reporter: Actor | None = None


@register("case.regraded", label_zh="调整等级", label_en="grade changed", key="case_id", owner="intake", description="Staff changed a case's grade, with a reason.")
class CaseRegraded(Payload):
    case_id: str
    case_no: str
    old_grade: Grade
    new_grade: Grade
    reason: str
    by: Actor
    at: datetime


@register("case.transferred", label_zh="移交其他网格", label_en="moved to another grid", key="case_id",
          owner="intake", description="The centre moved a case to another grid (and its community), with a reason.")
class CaseTransferred(Payload):
    case_id: str
    case_no: str
    from_grid: str | None = None
    to_grid: str
    from_community: str | None = None
    to_community: str | None = None
    reason: str
    by: Actor
    at: datetime


@register(
    "case.merged", label_zh="合并至其他案件", label_en="merged into another case",
    key="case_id",
    owner="intake",
    description="A duplicate case was merged into another (one problem, many requesters).",
)
class CaseMerged(Payload):
    case_id: str = Field(description="the case that was merged away")
    case_no: str
    into_case_id: str
    into_case_no: str
    by: Actor
    at: datetime


@register(
    "case.rated", label_zh="回访评价", label_en="satisfaction rated",
    key="case_id",
    owner="intake",
    description="The requester rated the handling of a resolved case (回访).",
)
class CaseRated(Payload):
    case_id: str
    case_no: str
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str | None = None
    by: Actor
    at: datetime
    solved: bool | None = Field(None, description="the requester's answer to \"was the problem solved?\" (None: not asked)")
    channel: Literal["call", "sms", "public_page", "external", "staff"] | None = Field(
        None, description="how the answer was given: a follow-up call, an SMS reply, the public case page, an "
        "external system, or staff without saying (None: before this field)")


@register(
    "case.reopened", label_zh="重新办理", label_en="case reopened",
    key="case_id",
    owner="intake",
    description="A case was reopened (an unsatisfied rating); dispatch re-routes it.",
)
class CaseReopened(Payload):
    case_id: str
    case_no: str
    reason: str
    by: Actor
    at: datetime
