"""Judicial confirmation (司法确认): apply, add material when asked, the court's decision."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import structlog
from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.common import SYSTEM
from fengqiao_events.payloads.mediation import (
    JudicialApplied,
    JudicialMaterialRequested,
    JudicialRejected,
    MediationConfirmed,
)

from ..adapters.court import CourtClient, CourtError
from ..domain import court as rules_court
from ..domain import rules
from ..domain.court import CourtUnavailable
from ..domain.policy import authorize_court_application, authorize_manage, authorize_view
from . import common, views
from .commands import CourtCallback
from .records import sealed_chain, statement_in

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW

log = structlog.get_logger("fengqiao.mediation")


async def _check_can_apply(uow: MediationUoW, med: dict, agr: dict | None) -> None:
    rules_court.check_can_apply(med, agr, uow.now())
    rules_court.check_no_open_application(
        await uow.applications.open_for(med["id"], rules_court.OPEN_APPLICATION))


async def apply_to_court(uow: MediationUoW, principal: Principal, mediation_id: str, *, court: CourtClient) -> dict:
    """Check, send to the court (idempotent there on the application id), then record: the court's answer
    is awaited outside any transaction, and the checks are repeated under the mediation's lock."""
    cfg = uow.cfg
    async with uow:
        med = await common.mediation(uow, mediation_id)
        authorize_court_application(principal, med)
        agr = await uow.agreements.for_mediation(mediation_id)
        await _check_can_apply(uow, med, agr)
        parties = await uow.mediations.parties(mediation_id)
        chain = await sealed_chain(uow, mediation_id)
        statement = await statement_in(uow, chain[-1][0]["sealed_at"].astimezone(cfg.tz).date()) if chain else None
    aid = new_id()
    payload = {
        "application_id": aid, "mediation_id": mediation_id, "court": cfg.court_code,
        "category": med["category"], "callback_url": cfg.court_callback_url,
        "parties": [{"side": x["side"], "name": x["name"], "organisation": x["organisation"]} for x in parties],
        "agreement": {"id": agr["id"], "sha256": agr["sha256"], "generated_at": agr["generated_at"].isoformat(),
                      "pdf_base64": base64.b64encode(agr["pdf"]).decode()},
        # the signed chain-head statement of the day the last record was sealed, and the published keys
        "seal_statement": statement, "seal_keys": cfg.keys.published(),
    }
    try:
        answer = await court.apply(payload)
    except CourtError as exc:
        log.warning("court application failed", mediation_id=mediation_id, error=str(exc))
        raise CourtUnavailable() from exc
    async with uow:
        now = uow.now()
        med = await common.mediation(uow, mediation_id, lock=True)
        await _check_can_apply(uow, med, agr)
        row = await uow.applications.insert(dict(
            id=aid, mediation_id=mediation_id, agreement_id=agr["id"], court=cfg.court_code,
            external_ref=answer.get("external_ref"), status="submitted",
            history=[{"at": now.isoformat(), "event": "submitted", "by": principal.sub}], applied_at=now))
        await uow.mediations.update(mediation_id, now, status=rules.APPLIED)
        uow.emit(JudicialApplied(**common.ref(med), at=now, by=common.actor(principal), application_id=aid,
                                 court=cfg.court_code, deadline=agr["apply_by"]))
        await uow.commit()
    return views.application(row)


async def get_application(uow: MediationUoW, principal: Principal, application_id: str) -> dict:
    async with uow:
        a = await common.application(uow, application_id)
        med = await common.mediation(uow, a["mediation_id"])
        authorize_view(principal, med, await common.party_ids(uow, med["id"]))
    return views.application(a)


async def add_material(uow: MediationUoW, principal: Principal, application_id: str, description: str, *,
                       court: CourtClient) -> dict:
    async with uow:
        a = await common.application(uow, application_id)
        med = await common.mediation(uow, a["mediation_id"])
        authorize_manage(principal, med)
        rules_court.check_material_requested(a)
    try:
        await court.add_material(a["external_ref"], {"application_id": application_id, "description": description})
    except CourtError as exc:
        raise CourtUnavailable() from exc
    async with uow:
        now = uow.now()
        await common.mediation(uow, a["mediation_id"], lock=True)
        entry = {"at": now.isoformat(), "event": "material_added", "by": principal.sub, "description": description}
        if await uow.applications.update(application_id, entry, only_if_status="material_requested",
                                         status="submitted"):
            await uow.mediations.update(a["mediation_id"], now, status=rules.APPLIED)
        await uow.commit()
    return await get_application(uow, principal, application_id)


async def court_callback(uow: MediationUoW, cb: CourtCallback) -> dict:
    """The court's decision (its signature checked at the door). A repeated callback changes nothing."""
    async with uow:
        a = await uow.applications.get(cb.application_id)
        if a is None or (a["external_ref"] and a["external_ref"] != cb.external_ref):
            raise NotFound("court application", "司法确认申请")
        med = await common.mediation(uow, a["mediation_id"], lock=True)
        a = await common.application(uow, cb.application_id, lock=True)
        target = rules_court.TARGET[cb.decision]
        if rules_court.is_duplicate_callback(a, cb.decision, cb.ruling_no):
            return {"application_id": a["id"], "status": a["status"], "duplicate": True}
        rules_court.check_callback(a, cb.decision)
        entry = {"at": cb.at.isoformat(), "event": cb.decision, "ruling_no": cb.ruling_no, "reason": cb.reason}
        values: dict = {"status": target}
        ref = common.ref(med)
        if cb.decision == "more_material":
            values["material_request"] = cb.reason
            uow.emit(JudicialMaterialRequested(**ref, at=cb.at, by=SYSTEM, application_id=a["id"], request=cb.reason))
        elif cb.decision == "confirmed":
            values.update(ruling_no=cb.ruling_no, decided_at=cb.at)
            uow.emit(MediationConfirmed(**ref, at=cb.at, by=SYSTEM, application_id=a["id"], court=a["court"],
                                        ruling_no=cb.ruling_no, agreement_id=a["agreement_id"]))
        else:
            values.update(reason=cb.reason, decided_at=cb.at)
            uow.emit(JudicialRejected(**ref, at=cb.at, by=SYSTEM, application_id=a["id"],
                                      reason=cb.reason or "rejected"))
        await uow.applications.update(a["id"], entry, **values)
        await uow.mediations.update(med["id"], uow.now(), status=rules_court.MEDIATION_STATUS[cb.decision])
        await uow.commit()
    return {"application_id": a["id"], "status": target, "duplicate": False}
