"""Text messages to residents: queued in the transaction of the change that causes them (the SMS
outbox, ``uow.sms``), sent by the SMS worker (:class:`SmsPump`), held through the quiet hours, never to
a requester who opted out, each send key once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from fengqiao_common.clock import Clock
from fengqiao_common.ids import new_id
from fengqiao_common.sms import SmsProvider, TemplateError

from ..domain import notifications as rules
from ..domain import pii

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

log = structlog.get_logger("fengqiao.intake.sms")


@dataclass(frozen=True)
class SmsPolicy:
    timezone: ZoneInfo
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    requester_key: bytes = b""
    template_codes: dict | None = None
    max_attempts: int = 5
    retry_seconds: float = 300.0

    def code_of(self, template: str) -> str:
        return (self.template_codes or {}).get(template, f"SMS_FQ_{template.upper()}")


def policy_of(settings) -> SmsPolicy | None:
    if not getattr(settings, "sms_enabled", False):
        return None
    return SmsPolicy(ZoneInfo(settings.timezone), settings.sms_quiet_start, settings.sms_quiet_end,
                     settings.requester_key_bytes, dict(settings.sms_templates), settings.sms_max_attempts,
                     settings.sms_retry_seconds)


def sms_row(policy: SmsPolicy, case: dict, template: str, params: dict, *, key: str, now: datetime) -> dict | None:
    """The outbox row of one message to the case's requester (None: no requester with a mobile number)."""
    phone = rules.recipient(case.get("parties"))
    if phone is None:
        return None
    rules.TEMPLATES[template].check(params)  # the template's parameters, nothing more
    return {"id": new_id(), "send_key": key, "template": template, "params": params, "phone": phone,
            "requester_ref": pii.ref_of_parties(policy.requester_key, case.get("parties")),
            "not_before": rules.release_at(now, policy.timezone, policy.quiet_start, policy.quiet_end)}


async def queue_sms(uow: IntakeUoW, policy: SmsPolicy | None, case: dict, template: str, params: dict, *,
                    key: str) -> bool:
    """Inside the caller's transaction; False when nobody to tell or the key was queued before."""
    if policy is None:
        return False
    row = sms_row(policy, case, template, params, key=key, now=uow.now())
    if row is None:
        return False
    return await uow.sms.enqueue(row | {"case_id": case["id"], "status": "pending", "created_at": uow.now()})


async def _cycle(uow: IntakeUoW, case_id: str) -> int:
    return sum(1 for e in await uow.timeline.of_case(case_id) if e["kind"] == "case.reopened")


async def notify_event(uow: IntakeUoW, policy: SmsPolicy | None, case: dict, topic: str, data: dict, *,
                       old_status: str, event_id: str) -> None:
    """The messages an event of the case's handling causes (inside the consumer's transaction)."""
    if policy is None or case.get("merged_into"):
        return
    no = {"case_no": case["case_no"]}
    if topic == "department.checked-in" and case["status"] == "on_site" and old_status != "on_site":
        await queue_sms(uow, policy, case, "on_site", no, key=f"on_site:{case['id']}:{event_id}")
    elif topic == "order.verified" and data.get("accepted", True):
        await queue_sms(uow, policy, case, "result", no, key=f"result:{case['id']}:{await _cycle(uow, case['id'])}")
    elif topic == "case.closed":
        rated = case.get("last_rating_at") is not None and case["last_rating_at"] >= case["status_at"]
        if not rated:
            await queue_sms(uow, policy, case, "rating_ask", no,
                            key=f"rating_ask:{case['id']}:{await _cycle(uow, case['id'])}")


class SmsPump:
    """One round: the due messages, each sent once (its row stays locked while it is sent)."""

    def __init__(self, uow_factory: Callable[[], IntakeUoW], provider: SmsProvider, policy: SmsPolicy, *,
                 clock: Clock, batch: int = 20):
        self.uow_factory, self.provider, self.policy, self.clock, self.batch = (
            uow_factory, provider, policy, clock, batch)

    async def step(self) -> int:
        uow = self.uow_factory()
        async with uow:
            rows = await uow.sms.claim_due(uow.now(), self.batch)
            for row in rows:
                await self._one(uow, row)
            await uow.commit()
        return len(rows)

    async def _one(self, uow: IntakeUoW, row: dict) -> None:
        now = uow.now()
        done = {"phone": None, "params": {k: v for k, v in row["params"].items() if k != "code"}}
        if await uow.sms.opted_out(row["requester_ref"]):
            await uow.sms.update(row["id"], status="opted_out", **done)
            return
        template = rules.TEMPLATES.get(row["template"])
        try:
            result = await self.provider.send(row["phone"], template, self.policy.code_of(row["template"]),
                                              row["params"], out_id=row["send_key"])
        except TemplateError as exc:
            await uow.sms.update(row["id"], status="failed", last_error=str(exc), **done)
            return
        attempts = row["attempts"] + 1
        if result.ok:
            await uow.sms.update(row["id"], status="sent", sent_at=now, attempts=attempts,
                                 provider_id=result.provider_id, **done)
        elif result.retryable and attempts < self.policy.max_attempts:
            await uow.sms.update(row["id"], attempts=attempts, last_error=f"{result.code}: {result.message}"[:500],
                                 not_before=now + timedelta(seconds=self.policy.retry_seconds * attempts))
        else:
            log.warning("sms not delivered", template=row["template"], code=result.code, case_id=row["case_id"])
            await uow.sms.update(row["id"], status="failed", attempts=attempts,
                                 last_error=f"{result.code}: {result.message}"[:500], **done)


async def opt_out_in(uow: IntakeUoW, requester_ref: str) -> None:
    """Inside the caller's transaction: no more messages to this requester (queued ones are dropped
    when their turn comes)."""
    await uow.sms.opt_out(requester_ref, uow.now())
