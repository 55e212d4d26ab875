"""The rules' parameters (from the settings and the jurisdiction file), as one plain value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.errors import Invalid, field_error

from .seals import Keyring


@dataclass(frozen=True)
class MediationConfig:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    slot: timedelta = timedelta(minutes=60)
    max_window_days: int = 31
    categories: dict[str, str] = field(default_factory=dict)  # code -> name
    dialects: tuple[str, ...] = ()
    apply_within_days: int = 30
    court_code: str = "court"
    street_name: str = ""
    court_callback_url: str = ""
    otp_secret: str = "otp"
    otp_ttl_seconds: int = 600
    otp_max_attempts: int = 5
    remind_days_before: tuple[int, ...] = (7, 1)
    keys: Keyring = field(default_factory=Keyring.generate)  # the seal key (never in the database)

    def category_name(self, code: str) -> str:
        return self.categories.get(code, code)

    @property
    def category_codes(self) -> list[str]:
        return list(self.categories)

    def check_codes(self, categories: list[str] | None, dialects: list[str] | None) -> None:
        """Unknown category or dialect codes: 422 with one field message each."""
        fields = []
        for c in categories or []:
            if c not in self.categories:
                fields.append(field_error("categories", "unknown_category", f"未知的调解类别：{c}",
                                          f"unknown mediation category: {c}"))
        for d in dialects or []:
            if d not in self.dialects:
                fields.append(field_error("dialects", "unknown_dialect", f"未知的方言：{d}", f"unknown dialect: {d}"))
        if fields:
            raise Invalid("请求参数有误", "request validation failed", fields=fields)
