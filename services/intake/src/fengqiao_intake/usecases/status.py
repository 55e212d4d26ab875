"""Status and timeline: consumed events onto a case, the status fold, status-change webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from fengqiao_common.ids import new_id
from fengqiao_events import Envelope
from pydantic import BaseModel

from ..domain import status as status_rules
from ..domain.timeline import note
from ..domain.visibility import reader_links
from ..domain.webhooks import status_changed_body

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

log = structlog.get_logger("fengqiao.intake")


async def enqueue_status_webhooks(uow: IntakeUoW, case: dict, old: str, new: str, *, at: datetime,
                                  note_text: str) -> int:
    """Queue one delivery per active webhook of every external system that requested this case."""
    hooks = await uow.webhooks.active_ids(await uow.cases.requester_systems(case["id"]))
    if not hooks:
        return 0
    merged_into_no = None
    if new == "merged" and case.get("merged_into"):
        merged_into_no = (await uow.cases.case_nos([case["merged_into"]])).get(case["merged_into"])
    notification_id = new_id()
    body = status_changed_body(notification_id, case, old, new, at=at, note=note_text,
                               merged_into_case_no=merged_into_no)
    now = uow.now()
    await uow.webhooks.enqueue([
        {"id": new_id(), "webhook_id": h, "event_id": notification_id, "case_id": case["id"], "body": body,
         "status": "pending", "attempts": 0, "next_attempt_at": now} for h in hooks])
    return len(hooks)


async def recompute_status(uow: IntakeUoW, case: dict, *, note_text: str, at: datetime) -> str:
    """Fold the timeline into the status; on a change, store it and queue webhooks (updates ``case``)."""
    old = case["status"]
    new = status_rules.recompute(old, await uow.timeline.effects(case["id"]))
    if new is None:
        return old
    ts = uow.now()
    await uow.cases.update(case["id"], status=new, status_at=ts, updated_at=ts)
    case["status"], case["status_at"] = new, ts
    await enqueue_status_webhooks(uow, case, old, new, at=at, note_text=note_text)
    return new


async def record_event(uow: IntakeUoW, env: Envelope, payload: BaseModel, *, after=None) -> bool:
    """Consumer side: one order / check-in / mediation / closure event onto its case's timeline (and
    status). False when there is nothing to do: no case, an unknown case, or a duplicate delivery.
    ``after(uow, case, topic, data, old_status=, event_id=)`` adds its consequences in the same transaction
    (the resident's messages, the follow-up task: ``followups.consequences``)."""
    case_id = getattr(payload, "case_id", None)
    if not case_id:
        return False  # a mediation matter that did not come from a case
    async with uow:
        case = await uow.cases.get(case_id, lock=True)
        if case is None:
            log.info("event for an unknown case ignored", topic=env.topic, case_id=case_id)
            return False
        kind = env.topic
        data = payload.model_dump(mode="json")
        at = getattr(payload, "at", None) or env.time
        detail_text, detail = status_rules.event_detail(data)
        effect = status_rules.EFFECTS.get(kind)
        text = note(kind, detail_text)
        if not await uow.timeline.add(case_id, at=at, kind=kind, effect=effect, actor=data.get("by"),
                                      department=data.get("department"), note=text, detail=detail,
                                      event_id=env.id):
            return False
        department, mediator = reader_links(data)
        if department:
            await uow.cases.link_department(case_id, department, at)
        if mediator:
            await uow.cases.link_mediator(case_id, mediator, at)
        await uow.cases.update(case_id, updated_at=uow.now())
        old = case["status"]
        if effect is not None:
            await recompute_status(uow, case, note_text=text, at=at)
        if after is not None:
            await after(uow, case, kind, data, old_status=old, event_id=env.id)
        await uow.commit()
    return True
