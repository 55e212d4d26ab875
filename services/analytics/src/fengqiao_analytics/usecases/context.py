"""What the use cases need besides the unit of work: the jurisdiction, the time zone, the rule thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from fengqiao_common.jurisdiction import Jurisdiction

from ..config import WeakSignalThresholds


@dataclass(frozen=True)
class Context:
    jurisdiction: Jurisdiction
    thresholds: WeakSignalThresholds = field(default_factory=WeakSignalThresholds)
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_start(self, d: date) -> datetime:
        return datetime.combine(d, time.min, tzinfo=self.tz)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def names(self, c: dict) -> tuple[str, str, str]:
        """Display names of a row's grid, community and domain (the code, or '-', when unknown)."""
        j = self.jurisdiction
        g, cm, d = j.grid(c.get("grid") or ""), j.community(c.get("community") or ""), j.domain(c.get("category") or "")
        return (g.name if g else (c.get("grid") or "-"), cm.name if cm else (c.get("community") or "-"),
                d.name if d else (c.get("category") or "-"))
