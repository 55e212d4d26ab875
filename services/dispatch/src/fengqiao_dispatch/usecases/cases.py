"""A case's life beyond its orders: the centre's transfer to mediation, and other services' events
(case.reopened re-routes with a fresh clock, case.merged withdraws the orders, mediation.confirmed
closes the case, mediation.failed queues it again). The handlers run in a consumer's transaction and
ignore events their case's state makes moot (order-tolerant)."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_common.ids import new_id
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope
from fengqiao_events.payloads.case import CaseMerged, CaseReopened
from fengqiao_events.payloads.common import SYSTEM
from fengqiao_events.payloads.mediation import MediationConfirmed, MediationFailed
from fengqiao_events.payloads.order import CaseResolved, MediationReferred

from ..adapters.uow import DispatchUoW
from ..domain import cases as cm
from . import steps
from .commands import ReferToMediation
from .routing import route_by_rules


async def refer_to_mediation(uow: DispatchUoW, principal: Principal, cmd: ReferToMediation, *,
                             jurisdiction: Jurisdiction) -> dict:
    async with uow:
        case = await uow.cases.get(cmd.case_id, lock=True)
        if case is None:
            raise NotFound("case", "案件")
        cm.ensure_referable(case)
        category = cm.mediation_category(cmd.category, case, jurisdiction)
        now, actor = uow.now(), steps.actor_of(principal)
        await steps.cancel_open_orders(uow, case, "transferred to mediation", actor)
        referral_id = new_id()
        await uow.cases.update(cmd.case_id, status=cm.MEDIATION, updated_at=now)
        await uow.timeline.add(case_id=cmd.case_id, kind="mediation.referred", at=now, actor=steps.dumped(actor),
                               detail={"referral_id": referral_id, "category": category, "note": cmd.note})
        uow.emit(MediationReferred(
            referral_id=referral_id, case_id=cmd.case_id, case_no=case["case_no"], category=category,
            summary=case["summary"], grid=case["grid"], community=case["community"], at=now, by=actor,
        ))
        await uow.commit()
    return {"referral_id": referral_id, "case_id": cmd.case_id, "category": category, "at": now}


async def on_case_reopened(uow: DispatchUoW, env: Envelope, p: CaseReopened, *, jurisdiction: Jurisdiction) -> None:
    async with uow:
        case = await uow.cases.get(p.case_id, lock=True)
        if case is None or not cm.reopenable(case["status"]):
            return
        now = uow.now()
        await steps.cancel_open_orders(uow, case, "case reopened", SYSTEM, causation=env)
        await uow.cases.update(p.case_id, status=cm.NEW, clock_started_at=now, resolved_at=None, closed_at=None,
                               updated_at=now)
        await uow.timeline.add(case_id=p.case_id, kind="case.reopened", at=now, actor=p.by.model_dump(mode="json"),
                               detail={"reason": p.reason})
        case = await uow.cases.get(p.case_id, lock=True)
        await route_by_rules(uow, case, causation=env, jurisdiction=jurisdiction)
        await uow.commit()


async def on_case_merged(uow: DispatchUoW, env: Envelope, p: CaseMerged) -> None:
    async with uow:
        case = await uow.cases.get(p.case_id, lock=True)
        if case is None or not cm.mergeable(case["status"]):
            return
        now = uow.now()
        await steps.cancel_open_orders(uow, case, f"merged into {p.into_case_no}", SYSTEM, causation=env)
        await uow.cases.update(p.case_id, status=cm.MERGED, updated_at=now)
        await uow.timeline.add(case_id=p.case_id, kind="case.merged", at=now, actor=p.by.model_dump(mode="json"),
                               detail={"into_case_id": p.into_case_id})
        await uow.commit()


async def on_mediation_confirmed(uow: DispatchUoW, env: Envelope, p: MediationConfirmed) -> None:
    if not p.case_id:
        return
    async with uow:
        case = await uow.cases.get(p.case_id, lock=True)
        if case is None or case["status"] != cm.MEDIATION:
            return
        now = uow.now()
        await uow.cases.update(p.case_id, status=cm.RESOLVED, resolved_at=now, updated_at=now)
        await uow.timeline.add(case_id=p.case_id, kind="mediation.confirmed", at=now,
                               actor=p.by.model_dump(mode="json") if p.by else None,
                               detail={"mediation_id": p.mediation_id, "ruling_no": p.ruling_no, "court": p.court})
        uow.emit(CaseResolved(case_id=p.case_id, case_no=case["case_no"], at=now), causation=env)
        await steps.close_case(uow, case, p.by, causation=env)
        await uow.commit()


async def on_mediation_failed(uow: DispatchUoW, env: Envelope, p: MediationFailed) -> None:
    if not p.case_id:
        return
    async with uow:
        case = await uow.cases.get(p.case_id, lock=True)
        if case is None or case["status"] != cm.MEDIATION:
            return
        await uow.timeline.add(case_id=p.case_id, kind="mediation.failed", at=uow.now(),
                               actor=p.by.model_dump(mode="json") if p.by else None,
                               detail={"mediation_id": p.mediation_id, "handed_to": p.handed_to})
        await steps.queue_case(uow, case, f"mediation failed; handed to {p.handed_to}", causation=env)
        await uow.commit()
