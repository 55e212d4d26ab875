"""Response models of the analytics API (what the routes really return; schemathesis checks them).

Timestamps are written as ``datetime.isoformat()`` (``+00:00``), as the service always has."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ..config import WeakSignalThresholds

Timestamp = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json")]


# --- situation --------------------------------------------------------------------------------------------
class CodeCount(BaseModel):
    code: str
    name: str
    count: int


class CodeCountOpen(CodeCount):
    open: int


class GradeCount(CodeCountOpen):
    colour: str


class GridCount(CodeCountOpen):
    community: str
    row: int
    col: int


class Summary(BaseModel):
    today_date: str
    timezone: str
    total: int
    today: int
    this_week: int
    this_month: int
    open: int
    overdue: int
    reopened: int
    orders: int
    by_domain: list[CodeCountOpen]
    by_grade: list[GradeCount]
    by_status: list[CodeCount]
    by_channel: list[CodeCount]
    by_grid: list[GridCount]
    unlocated: int
    by_community: list[CodeCountOpen]
    by_department: list[CodeCount]
    ratings: dict[str, int]
    orders_by_status: dict[str, int]


class DepartmentFigures(BaseModel):
    code: str
    name: str
    level: str | None
    dispatched: int
    signed: int
    signed_within: int
    resolved: int
    resolved_within: int
    returned: int
    on_site_required: int
    on_site_within: int
    rated: int
    satisfied: int
    overdue: int
    overdue_open: int
    escalated: int
    cases: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    on_site_rate: float | None
    mean_resolve_seconds: float | None
    p90_resolve_seconds: float | None
    score: float | None
    rank: int | None


class Departments(BaseModel):
    ranking_rule: str
    items: list[DepartmentFigures]


class Ratio(BaseModel):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator, 4 decimals; null without a denominator")


class PreviousPeriod(BaseModel):
    period: str
    score: float | None
    rank: int | None


class DepartmentRates(BaseModel):
    code: str
    name: str
    response: Ratio = Field(description="orders signed for by their sign-for deadline / orders dispatched")
    resolution: Ratio = Field(description="rated cases the requester says are solved / rated cases")
    satisfaction: Ratio = Field(description="satisfied + basically satisfied / rated cases")
    dispatch_accuracy: Ratio = Field(description="orders not returned / orders dispatched")
    solved_answers: int = Field(description="rated cases whose answer said explicitly whether it was solved")
    dispatched: int
    rated: int
    score: float | None
    rank: int | None
    previous: PreviousPeriod
    rank_change: int | None = Field(description="places gained since the previous period (negative: lost)")
    score_change: float | None
    trend: Literal["up", "down", "same", "new"] | None


class DepartmentRatesPage(BaseModel):
    period: Literal["week", "month", "year"]
    key: str = Field(description="2026-W48, 2026-11 or 2026 (local time)")
    start: date
    end: date = Field(description="last day of the period")
    previous: str
    ranking_rule: str
    items: list[DepartmentRates]


class MediationCategory(BaseModel):
    """Counts per event type of one mediation category: ``counts`` by topic, and the same numbers under
    their Chinese labels (预约, 改约, ... as further keys)."""

    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    counts: dict[str, int]


class Mediation(BaseModel):
    bookings: int
    rescheduled: int
    cancelled: int
    home_visits: int
    sessions: int
    agreements: int
    judicial_applied: int
    judicial_material_requested: int
    judicial_reminded: int
    judicial_confirmed: int
    judicial_rejected: int
    failed: int
    referred: int
    by_category: list[MediationCategory]


class DayPoint(BaseModel):
    period: str
    reported: int
    resolved: int


class WeekPoint(BaseModel):
    period: str
    reported: int


class DayTrends(BaseModel):
    period: Literal["day"]
    series: list[DayPoint]


class WeekTrends(BaseModel):
    period: Literal["week"]
    series: list[WeekPoint]


# --- weak signals -----------------------------------------------------------------------------------------
class WeakSignal(BaseModel):
    signal_id: str
    source: str
    rule: str | None
    rule_name: str | None
    subject: str | None
    grid: str | None
    community: str | None
    category: str | None
    reasons: list[str]
    case_ids: list[str]
    people_involved: int
    active: bool
    status: str
    assignee: str | None
    first_at: Timestamp | None
    became_case_id: str | None
    became_case_at: Timestamp | None
    updated_at: Timestamp
    summary: str | None


class HistoryEntry(BaseModel):
    event_id: str
    signal_id: str
    at: Timestamp
    from_status: str | None
    to_status: str
    assignee: str | None
    note: str | None
    by_id: str | None
    by_role: str | None


class WeakSignalDetail(WeakSignal):
    history: list[HistoryEntry]


class WeakSignalPage(BaseModel):
    total: int
    items: list[WeakSignal]


class SignalStats(BaseModel):
    total: int
    by_status: dict[str, int]
    by_rule: dict[str, int]
    open: int
    reports: int
    became_cases: int
    conversion_rate: float | None


class Rule(BaseModel):
    code: str
    name_zh: str
    name_en: str


class Rules(BaseModel):
    rules: list[Rule]
    thresholds: WeakSignalThresholds
    transitions: dict[str, list[str]]


# --- admin ------------------------------------------------------------------------------------------------
class RebuildStarted(BaseModel):
    generation: int
    consumer_group: str
    status: Literal["replaying"]


class RebuildStatus(BaseModel):
    generation: int
    consumer_group: str
    processed_events: int
    rebuilt_at: Timestamp | None


# --- screen -----------------------------------------------------------------------------------------------
class Headline(BaseModel):
    total: int
    today: int
    open: int
    overdue: int
    this_week: int
    this_month: int


class ScreenDepartment(BaseModel):
    code: str
    name: str
    rank: int | None
    score: float | None
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    dispatched: int
    overdue_open: int


class ScreenSignal(BaseModel):
    rule: str | None
    rule_name: str | None
    grid: str | None
    community: str | None
    category: str | None
    status: str
    first_at: str | None


class ScreenSignalStats(BaseModel):
    open: int
    total: int
    became_cases: int


class TickerLine(BaseModel):
    id: int
    at: str
    topic: str
    case_no: str | None
    grid: str | None
    category: str | None
    grade: str | None
    grade_name: str | None
    colour: str | None
    department: str | None


class ScreenSnapshot(BaseModel):
    generated_at: str
    street: str
    headline: Headline
    today_date: str
    by_domain: list[CodeCountOpen]
    by_grade: list[GradeCount]
    grids: list[GridCount]
    trend: list[DayPoint]
    departments: list[ScreenDepartment]
    signals: list[ScreenSignal]
    signal_stats: ScreenSignalStats
    ticker: list[TickerLine]


class EventLabel(BaseModel):
    zh: str
    en: str
