"""Time limits (时限): deadlines from a grade's limits, in natural or working time.

Units (from the jurisdiction file): ``m`` minutes and ``h`` hours are always elapsed time; ``d`` days
are natural days under a ``natural`` calendar and working days under a ``working`` calendar; ``wd``
are always working days. Adding N working days keeps the time of day and moves forward day by day,
counting only working days (weekends and Chinese public holidays skipped, make-up workdays counted,
from the ``chinese-calendar`` package; outside the years it knows, Monday to Friday). Days are
taken in the jurisdiction's local time zone (Asia/Shanghai).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from fengqiao_common.jurisdiction import Grade, parse_limit

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
STAGES = ("sign_for", "on_site", "resolve")


@functools.lru_cache(maxsize=4096)  # a pure function of the date; the calendar is fixed per release
def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package does not know yet
        return day.weekday() < 5


def add_working_days(start: datetime, n: int) -> datetime:
    """``start`` plus ``n`` working days, same local time of day."""
    if n < 0:
        raise ValueError("n must not be negative")
    local = start.astimezone(LOCAL_TZ)
    day = local.date()
    left = n
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day):
            left -= 1
    out = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=LOCAL_TZ)
    return out.astimezone(start.tzinfo)


def add_limit(start: datetime, limit: str, calendar: str = "natural") -> datetime:
    n, unit = parse_limit(limit)
    if unit == "m":
        return start + timedelta(minutes=n)
    if unit == "h":
        return start + timedelta(hours=n)
    if unit == "d" and calendar == "natural":
        return start + timedelta(days=n)
    return add_working_days(start, n)


@dataclass(frozen=True)
class Deadlines:
    sign_for_by: datetime
    on_site_by: datetime | None
    resolve_by: datetime

    def of(self, stage: str) -> datetime | None:
        return getattr(self, f"{stage}_by")


def deadlines_for(grade: Grade, start: datetime, *, on_site_required: bool = True) -> Deadlines:
    return Deadlines(
        sign_for_by=add_limit(start, grade.sign_for, grade.calendar),
        on_site_by=add_limit(start, grade.on_site, grade.calendar) if on_site_required else None,
        resolve_by=add_limit(start, grade.resolve, grade.calendar),
    )
