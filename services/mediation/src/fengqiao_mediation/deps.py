"""What the use cases need besides a database session (built once per process in main.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Outbox

from .adapters.court import CourtClient
from .adapters.sms import SmsSender
from .config import Settings


@dataclass
class Deps:
    settings: Settings
    outbox: Outbox
    jurisdiction: Jurisdiction
    sms: SmsSender
    court: CourtClient

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.settings.slot_minutes)

    @property
    def apply_within_days(self) -> int:
        return self.settings.judicial_apply_within_days or self.jurisdiction.judicial_apply_within_days

    @property
    def court_code(self) -> str:
        return self.settings.court_code or self.jurisdiction.judicial_court or "court"

    def category_name(self, code: str) -> str:
        return next((c.name for c in self.jurisdiction.mediation_categories if c.code == code), code)

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.jurisdiction.mediation_categories]
