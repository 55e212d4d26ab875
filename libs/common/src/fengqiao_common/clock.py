"""The one clock every use case, worker and timer reads, so that tests can move time.

Services put a :class:`Clock` in their typed dependencies (``deps.clock``); production uses
:class:`SystemClock`, tests a :class:`ManualClock`. Nothing else calls ``datetime.now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


SYSTEM_CLOCK = SystemClock()


def aware(t: datetime | None) -> datetime | None:
    """A timestamp with a time zone (naive ones are taken as UTC)."""
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
