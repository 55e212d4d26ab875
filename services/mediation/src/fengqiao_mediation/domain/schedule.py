"""Weekly availability, leave and bookings -> free slots. Pure: times in, times out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time:
    m = _HHMM.match(text)
    if not m:
        raise ValueError("时间格式应为 HH:MM / time must be HH:MM")
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class WeeklyWindow:
    weekday: int  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def weekly_from_json(items: list[dict]) -> list[WeeklyWindow]:
    return [WeeklyWindow(int(i["weekday"]), parse_hhmm(i["start"]), parse_hhmm(i["end"])) for i in items]


def _days(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def free_slots(
    weekly: list[WeeklyWindow],
    busy: list[Interval],
    window: Interval,
    *,
    slot: timedelta,
    tz: ZoneInfo,
    now: datetime,
    limit: int | None = None,
) -> list[Interval]:
    """Slots of length ``slot`` inside the weekly availability (local time ``tz``) that lie within
    ``window``, start after ``now`` and overlap nothing in ``busy`` (leave and active bookings)."""
    lo = max(window.start, now)
    out: list[Interval] = []
    first = lo.astimezone(tz).date()
    last = window.end.astimezone(tz).date()
    for day in _days(first, last):
        for w in sorted((w for w in weekly if w.weekday == day.weekday()), key=lambda w: w.start):
            t = datetime.combine(day, w.start, tz)
            end_of_window = datetime.combine(day, w.end, tz)
            while t + slot <= end_of_window:
                cand = Interval(t.astimezone(UTC), (t + slot).astimezone(UTC))
                if cand.start >= lo and cand.end <= window.end and not any(cand.overlaps(b) for b in busy):
                    out.append(cand)
                    if limit is not None and len(out) >= limit:
                        return out
                t += slot
    return out


def within_availability(weekly: list[WeeklyWindow], slot: Interval, tz: ZoneInfo) -> bool:
    """Does ``slot`` lie inside one weekly availability window (local time)?"""
    s, e = slot.start.astimezone(tz), slot.end.astimezone(tz)
    if s.date() != e.date() and not (e.time() == time(0, 0) and e.date() == s.date() + timedelta(days=1)):
        return False
    for w in weekly:
        if w.weekday == s.weekday() and w.start <= s.time() and (e.time() <= w.end) and e.time() > s.time():
            return True
    return False
