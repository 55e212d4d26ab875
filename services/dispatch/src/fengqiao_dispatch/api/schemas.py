"""Request bodies of the dispatch API (validation messages in Chinese and English)."""

from __future__ import annotations

from typing import Annotated, Any

from fengqiao_events.payloads.common import Location
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..domain.rules import reject_nul

Ref = Annotated[str, Field(min_length=1, max_length=500)]
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("不能为空 / must not be blank")
    return v.strip()


class SignFor(_Body):
    officer: str | None = Field(None, max_length=100, description="officer name; defaults to the caller")


class CheckIn(_Body):
    officer: str | None = Field(None, max_length=100)
    location: Location

    @field_validator("location")
    @classmethod
    def _where(cls, v: Location) -> Location:
        if v.lat is None and v.lon is None and not (v.address or "").strip():
            raise ValueError("请提供到场位置（坐标或地址） / give the on-site location (coordinates or address)")
        if v.lat is not None and not -90 <= v.lat <= 90:
            raise ValueError("纬度应在 -90 到 90 之间 / latitude must be between -90 and 90")
        if v.lon is not None and not -180 <= v.lon <= 180:
            raise ValueError("经度应在 -180 到 180 之间 / longitude must be between -180 and 180")
        return v


class Progress(_Body):
    note: str = Field(min_length=1, max_length=4000)
    attachments: list[Ref] = Field(default_factory=list, max_length=20, description="attachment ids or URLs")

    _nb = field_validator("note")(_not_blank)


class Resolve(_Body):
    result: str = Field(min_length=1, max_length=4000)
    evidence: list[Ref] = Field(default_factory=list, max_length=20, description="attachment ids or URLs")

    _nb = field_validator("result")(_not_blank)


class Return(_Body):
    reason: str = Field(min_length=2, max_length=1000)

    _nb = field_validator("reason")(_not_blank)


class Verify(_Body):
    accepted: bool = True
    comment: str | None = Field(None, max_length=2000)


class ManualDispatch(_Body):
    lead: str | None = Field(None, max_length=32, description="lead department (首接负责); omit when the case "
                             "still has an active lead and only assisting departments are added")
    assist: list[str] = Field(default_factory=list, max_length=20)
    on_site_required: bool = True


class Referral(_Body):
    category: str | None = Field(None, max_length=32, description="mediation category; default: the case's domain")
    note: str | None = Field(None, max_length=2000)
