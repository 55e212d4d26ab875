"""Response and request models of the public case page and the follow-up list."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]


class PublicStep(BaseModel):
    at: datetime
    text: str = Field(description="the step in plain words (no names, no notes)")
    primary: bool = Field(False, description="a step of the case this one was merged into")


class PublicCase(BaseModel):
    case_no: str
    category: str
    reported_at: datetime
    status: str
    status_text: str
    merged_into_case_no: str | None = None
    steps: list[PublicStep]
    can_rate: bool
    last_rating: Rating | None = None


class PublicRatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=4, max_length=16)
    rating: Rating
    solved: bool | None = Field(None, description="was the problem solved?")
    comment: str | None = Field(None, max_length=500)


class PublicCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=4, max_length=16)


class FollowUpOut(BaseModel):
    id: str
    case_id: str
    case_no: str
    summary: str
    category: str
    case_status: str
    cycle: int
    created_at: datetime
    due_at: datetime
    status: Literal["open", "done"]
    rating: Rating | None = None
    solved: bool | None = None
    channel: str | None = None
    comment: str | None = None
    done_at: datetime | None = None
    to_leader: bool


class FollowUpList(BaseModel):
    items: list[FollowUpOut]
    total: int


class FollowUpOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Rating
    solved: bool | None = Field(None, description="was the problem solved? (asked separately from the rating)")
    channel: Literal["call", "sms", "external"] = "call"
    comment: str | None = Field(None, max_length=1000)
