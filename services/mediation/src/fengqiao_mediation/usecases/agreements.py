"""The agreement (调解协议书): generated from the sealed, verified records; read (with its PDF)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, NotFound
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.mediation import AgreementGenerated

from ..adapters.pdf import AgreementDoc
from ..domain import records, rules
from ..domain.policy import authorize_mediator, authorize_view
from . import common, views
from .records import sealed_chain

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW

Renderer = Callable[[AgreementDoc], Awaitable[bytes]]


def _check_ready(med: dict, unsealed: int, chain: list) -> tuple[list[str], list[dict]]:
    if med["status"] != rules.IN_PROGRESS:
        raise Conflict("当前状态不能生成调解协议", f"mediation is {med['status']}", code="not_ready",
                       status=med["status"])
    if unsealed:
        raise Conflict("尚有未经双方确认的调解记录", "some session records are not yet confirmed", code="unsealed_records")
    if not chain:
        raise Conflict("没有已确认的调解记录", "no confirmed session record", code="no_records")
    if not all(c.ok for c in records.verify_chain(chain)):
        raise Conflict("调解记录校验失败", "the sealed records fail verification", code="records_tampered")
    recs = [s for s, _ in chain]
    points, outstanding = rules.agreement_points(recs)
    if outstanding:
        raise Conflict("最近一次调解记录仍有未决事项", "the last record has outstanding points",
                       code="points_outstanding", points_outstanding=outstanding)
    if not points:
        raise Conflict("没有已达成的协议事项", "no point was agreed", code="no_points")
    return points, recs


async def generate_agreement(uow: MediationUoW, principal: Principal, mediation_id: str, *,
                             render: Renderer) -> dict:
    cfg = uow.cfg
    async with uow:
        med = await common.mediation(uow, mediation_id, lock=True)
        authorize_mediator(principal, med)
        points, recs = _check_ready(med, await uow.sessions.count(mediation_id, unsealed=True),
                                    await sealed_chain(uow, mediation_id))
        parties = await uow.mediations.parties(mediation_id)
        aid, now, head = new_id(), uow.now(), recs[-1]["record_hash"]
        doc = AgreementDoc(
            agreement_id=aid, street=cfg.street_name, category_name=cfg.category_name(med["category"]),
            summary=med["summary"], parties=parties, mediator_name=await uow.mediators.name(med["mediator_id"]),
            points=points,
            records=[{"seq": r["seq"], "started_at": r["started_at"].astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M"),
                      "place": r["place"], "record_hash": r["record_hash"]} for r in recs],
            chain_head=head, generated_at=now.astimezone(cfg.tz))
        pdf = await render(doc)
        digest = records.sha256_hex(pdf)
        apply_by = now + timedelta(days=cfg.apply_within_days)
        await uow.agreements.insert(dict(id=aid, mediation_id=mediation_id, points=points, chain_head=head, pdf=pdf,
                                         sha256=digest, generated_at=now, apply_by=apply_by))
        await uow.mediations.update(mediation_id, now, status=rules.AGREED)
        uow.emit(AgreementGenerated(**common.ref(med), at=now, by=common.actor(principal), agreement_id=aid,
                                    sha256=digest))
        await uow.commit()
    return {"id": aid, "mediation_id": mediation_id, "sha256": digest, "points": points, "chain_head": head,
            "generated_at": now, "apply_by": apply_by, "pdf_url": f"/api/v1/mediation/agreements/{aid}/pdf"}


async def get_agreement(uow: MediationUoW, principal: Principal, agreement_id: str, *,
                        with_pdf: bool = False) -> dict:
    async with uow:
        a = await uow.agreements.get(agreement_id)
        if a is None:
            raise NotFound("agreement", "调解协议")
        med = await common.mediation(uow, a["mediation_id"])
        authorize_view(principal, med, await common.party_ids(uow, med["id"]))
    out = views.agreement(a)
    if with_pdf:
        out["pdf"] = a["pdf"]
    return out
