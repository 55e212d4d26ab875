"""Request bodies (validated by pydantic; custom validators raise ValueError("中文 / English"))."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from fengqiao_common.clock import SYSTEM_CLOCK
from fengqiao_common.validation import no_nul
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Grade = Literal["red", "orange", "yellow", "blue"]
_PHONE = re.compile(r"^(\+?86-?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_card(value: str) -> bool:
    """Mainland resident ID number (GB 11643): 17 digits and a checksum digit or X."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


_no_nul = no_nul


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _nul = field_validator("*", mode="after")(classmethod(lambda cls, v: _no_nul(v)))


class PartyIn(_In):
    name: str = Field(min_length=1, max_length=50)
    phone: str | None = Field(None, max_length=20)
    id_card: str | None = Field(None, max_length=18)
    role: Literal["requester", "respondent", "other"] = "other"

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v and not _PHONE.match(v):
            raise ValueError("电话号码格式不正确 / phone number is not valid")
        return v

    @field_validator("id_card")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v:
            v = v.upper()
            if not valid_id_card(v):
                raise ValueError("身份证号码无效 / ID-card number is not valid")
        return v


class LocationIn(_In):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _some(self) -> LocationIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("经纬度须同时提供 / lat and lon must be given together")
        if self.lat is None and not self.address:
            raise ValueError("须提供经纬度或地址 / give lat/lon or an address")
        return self


class CaseIn(_In):
    category: str = Field(min_length=1, max_length=40, description="domain code from /api/v1/catalogue")
    title: str | None = Field(None, min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=4000)
    people_involved: int = Field(0, ge=0, le=1_000_000)
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)
    occurred_at: datetime | None = None
    attachments: list[str] = Field(default_factory=list, max_length=20, description="attachment ids")
    grade: Grade | None = Field(None, description="omit to derive from the category and the facts")
    grid: str | None = Field(None, max_length=20)
    community: str | None = Field(None, max_length=20)
    location: LocationIn | None = None

    @field_validator("occurred_at")
    @classmethod
    def _occurred(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("时间须带时区 / the time must carry a time zone offset")
        if v > SYSTEM_CLOCK.now() + timedelta(minutes=5):
            raise ValueError("发生时间不能晚于当前时间 / occurred_at cannot be in the future")
        return v

    @field_validator("attachments")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("附件重复 / duplicate attachment ids")
        return v


class GridEventIn(CaseIn):
    grid: str = Field(min_length=1, max_length=20)
    location: LocationIn


class PetitionIn(CaseIn):
    channel: Literal["visit", "letter", "phone", "online"]
    requester: PartyIn


class DemandIn(CaseIn):
    external_ref: str | None = Field(None, min_length=1, max_length=100, description="the system's own id")
    requester: PartyIn | None = None


class RegradeIn(_In):
    grade: Grade
    reason: str = Field(min_length=2, max_length=500)


class TransferIn(_In):
    grid: str = Field(min_length=1, max_length=32, description="code of the grid that takes the case over")
    reason: str = Field(min_length=2, max_length=500)


class MergeIn(_In):
    into: str = Field(min_length=1, max_length=64, description="case id or case number to merge into")
    reason: str | None = Field(None, max_length=500)


class RatingIn(_In):
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str | None = Field(None, max_length=1000)


class WeakSignalIn(_In):
    grid: str = Field(min_length=1, max_length=20)
    category: str = Field(min_length=1, max_length=40)
    summary: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=4000)
    people_involved: int = Field(0, ge=0, le=1_000_000)


class WebhookIn(_In):
    url: str = Field(min_length=8, max_length=2000)
