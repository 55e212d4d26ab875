"""The use cases' commands: the request bodies (validation messages in Chinese and English)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fengqiao_common.validation import no_nul
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..domain.schedule import parse_hhmm

PHONE = r"^1\d{10}$"


_no_nul = no_nul


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data):
        return _no_nul(data)


def check_time(v: datetime | None) -> datetime | None:
    if v is None:
        return v
    if v.tzinfo is None:
        raise ValueError("时间须带时区 / timestamp must carry a time zone")
    if not 2000 <= v.year <= 2100:
        raise ValueError("时间超出范围（2000–2100 年） / timestamp out of range (years 2000-2100)")
    return v


_aware = check_time


class WeeklyIn(_In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: str
    end: str

    @model_validator(mode="after")
    def _order(self) -> WeeklyIn:
        s, e = parse_hhmm(self.start), parse_hhmm(self.end)
        if e <= s:
            raise ValueError("结束时间须晚于开始时间 / end must be after start")
        return self


class RelationIn(_In):
    name: str = Field(min_length=1, max_length=100, description="person or organisation")
    relation: str | None = Field(None, max_length=50)


MediatorKind = Literal["deputy_member", "public_official", "cross_river", "lawyer", "volunteer", "other"]


class MediatorIn(_In):
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=50)
    kind: MediatorKind
    gender: Literal["male", "female"]
    categories: list[str] = Field(min_length=1)
    dialects: list[str] = Field(min_length=1)
    capacity: int = Field(3, ge=1, le=50)
    outreach: bool = True
    weekly: list[WeeklyIn] = Field(default_factory=list)
    relations: list[RelationIn] = Field(default_factory=list)


class MediatorPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=50)
    kind: MediatorKind | None = None
    categories: list[str] | None = Field(None, min_length=1)
    dialects: list[str] | None = Field(None, min_length=1)
    capacity: int | None = Field(None, ge=1, le=50)
    outreach: bool | None = None
    active: bool | None = None
    relations: list[RelationIn] | None = None


class AvailabilityIn(_In):
    weekly: list[WeeklyIn]


class LeaveIn(_In):
    starts_at: datetime
    ends_at: datetime
    reason: str | None = Field(None, max_length=200)

    _tz = field_validator("starts_at", "ends_at")(_aware)

    @model_validator(mode="after")
    def _order(self) -> LeaveIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("结束时间须晚于开始时间 / ends_at must be after starts_at")
        return self


class WindowIn(_In):
    from_: datetime = Field(alias="from")
    to: datetime

    _tz = field_validator("from_", "to")(_aware)

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.to <= self.from_:
            raise ValueError("时间窗口结束须晚于开始 / window 'to' must be after 'from'")
        return self


class PreferenceIn(_In):
    mediator_id: str | None = None
    dialect: str | None = None
    gender: Literal["male", "female"] | None = None
    mode: Literal["centre", "home"] = "centre"
    address: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _address(self) -> PreferenceIn:
        if self.mode == "home" and not (self.address and self.address.strip()):
            raise ValueError("上门调解须填写地址 / an address is required for a home visit (上门)")
        return self


class PartyIn(_In):
    side: Literal["applicant", "respondent"]
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=PHONE, description="mobile number (one-time codes are sent to it)")
    organisation: str | None = Field(None, max_length=100)


class ProposalRequest(_In):
    category: str | None = None
    mediation_id: str | None = None
    party_names: list[str] = Field(default_factory=list, description="people and organisations of both sides")
    preference: PreferenceIn = Field(default_factory=PreferenceIn)
    window: WindowIn
    limit: int = Field(5, ge=1, le=50)


class BookingIn(_In):
    mediation_id: str | None = Field(None, description="a referred (or earlier booked) mediation")
    category: str | None = Field(None, description="mediation category (new mediations)")
    summary: str | None = Field(None, max_length=2000)
    parties: list[PartyIn] = Field(default_factory=list, max_length=10)
    preference: PreferenceIn = Field(default_factory=PreferenceIn)
    mediator_id: str | None = Field(None, description="book this mediator's slot starting at starts_at")
    starts_at: datetime | None = None
    window: WindowIn | None = Field(None, description="or let the matcher pick the best slot in this window")

    _tz = field_validator("starts_at")(_aware)

    @model_validator(mode="after")
    def _what(self) -> BookingIn:
        if self.starts_at is None and self.window is None:
            raise ValueError("须提供 starts_at（与 mediator_id）或 window / give starts_at (with mediator_id) or a window")
        if self.starts_at is not None and not (self.mediator_id or self.preference.mediator_id):
            raise ValueError("指定时段须同时指定调解员 / starts_at needs mediator_id")
        if self.parties:
            sides = {p.side for p in self.parties}
            if sides != {"applicant", "respondent"}:
                raise ValueError("须至少有一名申请人和一名被申请人 / at least one applicant and one respondent")
        return self


class RescheduleIn(_In):
    starts_at: datetime
    mediator_id: str | None = None

    _tz = field_validator("starts_at")(_aware)


class CancelIn(_In):
    reason: str | None = Field(None, max_length=500)


def _points(v: list[str]) -> list[str]:
    out = [p.strip() for p in v]
    if any(not p for p in out):
        raise ValueError("事项内容不能为空 / a point cannot be empty")
    return out


class SessionIn(_In):
    booking_id: str | None = None
    started_at: datetime
    ended_at: datetime
    place: str = Field(min_length=1, max_length=200)
    attendees: list[str] = Field(min_length=1, max_length=30)
    points_agreed: list[str] = Field(default_factory=list, max_length=50)
    points_outstanding: list[str] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(None, max_length=5000)

    _tz = field_validator("started_at", "ended_at")(_aware)
    _pts = field_validator("points_agreed", "points_outstanding")(_points)

    @model_validator(mode="after")
    def _check(self) -> SessionIn:
        if self.ended_at <= self.started_at:
            raise ValueError("结束时间须晚于开始时间 / ended_at must be after started_at")
        if not self.points_agreed and not self.points_outstanding:
            raise ValueError("须记录已达成或未决事项 / record at least one point agreed or outstanding")
        return self


class OtpIn(_In):
    party_id: str


class SignatureIn(_In):
    """A signature. A party signs through its own channel: ``image`` logged in as that party, ``otp`` with the
    code sent to its phone (logged in as that party, or with no identity at all), or ``in_person``: entered
    by the mediator in charge, signed in person before the mediator and a witness (name, role, photo)."""

    signer: Literal["mediator", "party"]
    party_id: str | None = None
    method: Literal["image", "otp", "in_person"]
    image_base64: str | None = Field(None, max_length=800_000)
    code: str | None = Field(None, pattern=r"^\d{6}$")
    witness_name: str | None = Field(None, min_length=1, max_length=100)
    witness_role: str | None = Field(None, min_length=1, max_length=100)
    photo_base64: str | None = Field(None, max_length=4_000_000)

    @model_validator(mode="after")
    def _check(self) -> SignatureIn:
        if self.signer == "party" and not self.party_id:
            raise ValueError("当事人签名须指定 party_id / party_id is required for a party's signature")
        if self.method in ("image", "in_person") and not self.image_base64:
            raise ValueError("签名图片缺失 / image_base64 is required for an on-screen signature")
        if self.method == "otp" and not self.code:
            raise ValueError("验证码缺失 / code is required for a one-time-code signature")
        if self.method == "otp" and self.signer != "party":
            raise ValueError("验证码签名仅适用于当事人 / one-time codes are for parties only")
        if self.method == "in_person":
            if self.signer != "party":
                raise ValueError("现场见证签名仅适用于当事人 / signing in person is for parties only")
            if not (self.witness_name and self.witness_role and self.photo_base64):
                raise ValueError("现场见证签名须填写见证人姓名、身份并附现场照片 / signing in person needs "
                                 "witness_name, witness_role and photo_base64")
        return self


class CourtApplicationIn(_In):
    mediation_id: str


class MaterialIn(_In):
    description: str = Field(min_length=1, max_length=5000)


class FailureIn(_In):
    handed_to: Literal["arbitration", "litigation", "other"]
    outcome: str | None = Field(None, max_length=2000)


class CourtCallback(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data):
        return _no_nul(data)
    application_id: str
    external_ref: str
    decision: Literal["more_material", "confirmed", "rejected"]
    ruling_no: str | None = None
    reason: str | None = None
    at: datetime

    @model_validator(mode="after")
    def _check(self) -> CourtCallback:
        if self.decision == "confirmed" and not self.ruling_no:
            raise ValueError("确认须附裁定书编号 / a confirmation needs ruling_no")
        return self
