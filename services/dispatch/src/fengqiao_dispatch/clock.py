"""The clock every use case and the timer loop read (``runtime.state["clock"]``), so tests can move
time: replace it with a :class:`ManualClock` before starting the app."""

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

    def __init__(self, start: datetime):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def clock_of(runtime) -> Clock:
    return runtime.state.setdefault("clock", SystemClock())
