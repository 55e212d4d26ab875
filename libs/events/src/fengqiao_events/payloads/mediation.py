"""Events owned by mediation: bookings, sealed session records, agreements, judicial confirmation.

Keyed by ``mediation_id`` (one mediation matter, which may or may not come from a case)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..registry import register
from . import Payload
from .common import Actor


class MediationRef(Payload):
    mediation_id: str
    case_id: str | None = None
    category: str
    at: datetime
    by: Actor | None = None


@register("mediation.booked", label_zh="预约调解", label_en="mediation booked", key="mediation_id", owner="mediation",
          description="A mediation was booked with a mediator for a time slot.")
class MediationBooked(MediationRef):
    booking_id: str
    mediator_id: str
    starts_at: datetime
    ends_at: datetime
    mode: Literal["centre", "home"] = "centre"


@register("mediation.rescheduled", label_zh="调解改期", label_en="mediation rescheduled", key="mediation_id", owner="mediation",
          description="A booking moved to another slot or mediator.")
class MediationRescheduled(MediationRef):
    booking_id: str
    mediator_id: str
    starts_at: datetime
    ends_at: datetime


@register("mediation.cancelled", label_zh="取消调解预约", label_en="mediation booking cancelled", key="mediation_id", owner="mediation", description="A booking was cancelled.")
class MediationCancelled(MediationRef):
    booking_id: str
    reason: str | None = None


@register("session.sealed", label_zh="调解笔录双方确认", label_en="session record sealed", key="mediation_id", owner="mediation",
          description="A session record was confirmed by both parties and the mediator and sealed (过程确认).")
class SessionSealed(MediationRef):
    session_id: str
    seq: int
    record_hash: str
    points_agreed: int = 0
    points_outstanding: int = 0


@register("agreement.generated", label_zh="生成调解协议", label_en="agreement generated", key="mediation_id", owner="mediation",
          description="The mediation agreement (调解协议书) was generated from the sealed records.")
class AgreementGenerated(MediationRef):
    agreement_id: str
    sha256: str


@register("judicial.applied", label_zh="申请司法确认", label_en="judicial confirmation applied for", key="mediation_id", owner="mediation",
          description="Judicial confirmation (司法确认) was applied for at the court.")
class JudicialApplied(MediationRef):
    application_id: str
    court: str
    deadline: datetime | None = None


@register("judicial-material.requested", label_zh="法院要求补充材料", label_en="the court asked for more material", key="mediation_id", owner="mediation",
          description="The court asked for more material before deciding on judicial confirmation.")
class JudicialMaterialRequested(MediationRef):
    application_id: str
    request: str | None = None


@register("judicial.reminded", label_zh="司法确认申请期限提醒", label_en="judicial confirmation deadline reminder", key="mediation_id", owner="mediation",
          description="The parties were reminded of the deadline to apply for judicial confirmation.")
class JudicialReminded(MediationRef):
    kind: str = Field(description="judicial_apply_<n>d (n days before) or judicial_apply_overdue")
    deadline: datetime


@register("judicial.rejected", label_zh="司法确认被驳回", label_en="judicial confirmation rejected", key="mediation_id", owner="mediation",
          description="The court rejected the application for judicial confirmation.")
class JudicialRejected(MediationRef):
    application_id: str
    reason: str


@register("mediation.confirmed", label_zh="司法确认完成", label_en="agreement judicially confirmed", key="mediation_id", owner="mediation",
          description="The court confirmed the agreement; it has the force of a judgment (双确认 complete).")
class MediationConfirmed(MediationRef):
    application_id: str
    court: str
    ruling_no: str = Field(description="the court's ruling number")
    agreement_id: str | None = None


@register("mediation.failed", label_zh="调解未成功", label_en="mediation failed", key="mediation_id", owner="mediation",
          description="Mediation failed and the matter was handed on (arbitration, litigation ...).")
class MediationFailed(MediationRef):
    handed_to: Literal["arbitration", "litigation", "other"]
    outcome: str | None = None
