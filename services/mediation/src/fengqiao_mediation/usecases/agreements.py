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
from ..domain import bundle, records, rules, seals
from ..domain.policy import authorize_mediator, authorize_view
from ..domain.signing import IN_PERSON, in_person_note
from . import common, views
from .records import chain_problems, days_of, sealed_chain, statement_in

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW

Renderer = Callable[[AgreementDoc], Awaitable[bytes]]


def _check_ready(med: dict, unsealed: int, chain: list, keys) -> tuple[list[str], list[dict]]:
    if med["status"] != rules.IN_PROGRESS:
        raise Conflict("当前状态不能生成调解协议", f"mediation is {med['status']}", code="not_ready",
                       status=med["status"])
    if unsealed:
        raise Conflict("尚有未经双方确认的调解记录", "some session records are not yet confirmed", code="unsealed_records")
    if not chain:
        raise Conflict("没有已确认的调解记录", "no confirmed session record", code="no_records")
    if not all(c.ok for c in chain_problems(chain, keys)):
        raise Conflict("调解记录校验失败", "the sealed records fail verification", code="records_tampered")
    recs = [s for s, _ in chain]
    points, outstanding = rules.agreement_points(recs)
    if outstanding:
        raise Conflict("最近一次调解记录仍有未决事项", "the last record has outstanding points",
                       code="points_outstanding", points_outstanding=outstanding)
    if not points:
        raise Conflict("没有已达成的协议事项", "no point was agreed", code="no_points")
    return points, recs


CHANNEL_ZH = {"login": "本人登录签名", "otp": "本人短信验证码签名", None: "签名"}


def _signature_lines(sigs: list[dict], mediator: str | None) -> list[str]:
    out = []
    for g in sorted(sigs, key=lambda x: x["signer"]):
        if g.get("channel") == IN_PERSON:
            out.append(in_person_note(g["signer_name"], mediator, g["witness_name"], g["witness_role"]).split(" / ")[0])
        else:
            out.append(f"{g['signer_name']}：{CHANNEL_ZH.get(g.get('channel'), '签名')}")
    return out


async def generate_agreement(uow: MediationUoW, principal: Principal, mediation_id: str, *,
                             render: Renderer) -> dict:
    """The agreement PDF from the sealed, verified records; it carries the record bundle and the agreement
    statement signed with the seal key (an attachment), so the PDF alone can be checked offline."""
    cfg = uow.cfg
    async with uow:
        med = await common.mediation(uow, mediation_id, lock=True)
        authorize_mediator(principal, med)
        chain = await sealed_chain(uow, mediation_id)
        points, recs = _check_ready(med, await uow.sessions.count(mediation_id, unsealed=True), chain,
                                    cfg.keys.verifier())
        parties = await uow.mediations.parties(mediation_id)
        mediator = await uow.mediators.name(med["mediator_id"])
        aid, now, head = new_id(), uow.now(), recs[-1]["record_hash"]
        statement = seals.agreement_statement(agreement_id=aid, mediation_id=mediation_id, points=points,
                                              chain_head=head, generated_at=now, parties=parties, mediator=mediator)
        signed = cfg.keys.signed(statement)
        statements = [await statement_in(uow, d) for d in days_of(chain, cfg.tz)]
        doc = AgreementDoc(
            agreement_id=aid, street=cfg.street_name, category_name=cfg.category_name(med["category"]),
            summary=med["summary"], parties=parties, mediator_name=mediator, points=points,
            records=[{"seq": r["seq"], "started_at": r["started_at"].astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M"),
                      "place": r["place"], "record_hash": r["record_hash"],
                      "signatures": _signature_lines(g, mediator)} for r, g in chain],
            chain_head=head, generated_at=now.astimezone(cfg.tz), seal_key_id=signed["key_id"],
            bundle=bundle.build(mediation_id, chain, statements, signed))
        pdf = await render(doc)
        digest = records.sha256_hex(pdf)
        apply_by = now + timedelta(days=cfg.apply_within_days)
        await uow.agreements.insert(dict(id=aid, mediation_id=mediation_id, points=points, chain_head=head, pdf=pdf,
                                         sha256=digest, generated_at=now, apply_by=apply_by,
                                         seal_statement=statement, seal_key_id=signed["key_id"],
                                         seal_signature=signed["signature"]))
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
