"""Session records (过程确认): record, read, send a one-time code, sign; the last signature seals."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, invalid
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.mediation import SessionSealed

from ..adapters.sms import SmsSender
from ..domain import records, rules, signing
from ..domain.policy import (
    authorize_mediator,
    authorize_mediator_signature,
    authorize_signing_for_party,
    authorize_view,
)
from . import common, views
from .commands import SessionIn, SignatureIn

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def create_session(uow: MediationUoW, principal: Principal, mediation_id: str, cmd: SessionIn) -> dict:
    async with uow:
        med = await common.mediation(uow, mediation_id, lock=True)
        authorize_mediator(principal, med)
        if med["status"] not in rules.RECORDABLE:
            raise Conflict("该调解案件当前不能记录调解", f"mediation is {med['status']}", code="not_recordable",
                           status=med["status"])
        if cmd.booking_id:
            b = await uow.bookings.get(cmd.booking_id)
            if b is None or b["mediation_id"] != mediation_id:
                raise invalid("booking_id", "预约不属于此案件", "booking does not belong to this mediation",
                              "unknown_booking", loc=["booking_id"])
        s = await uow.sessions.insert(dict(
            id=new_id(), mediation_id=mediation_id, seq=await uow.sessions.next_seq(mediation_id),
            booking_id=cmd.booking_id, started_at=cmd.started_at, ended_at=cmd.ended_at, place=cmd.place,
            attendees=cmd.attendees, points_agreed=cmd.points_agreed, points_outstanding=cmd.points_outstanding,
            notes=cmd.notes, status="open", created_at=uow.now()))
        if med["status"] == rules.BOOKED:
            await uow.mediations.update(mediation_id, uow.now(), status=rules.IN_PROGRESS)
        party_ids = await common.party_ids(uow, mediation_id)
        await uow.commit()
    return views.session(s, [], rules.required_signers(med["mediator_id"], party_ids))


async def get_session(uow: MediationUoW, principal: Principal, session_id: str) -> dict:
    async with uow:
        s = await common.record(uow, session_id)
        med = await common.mediation(uow, s["mediation_id"])
        party_ids = await common.party_ids(uow, med["id"])
        authorize_view(principal, med, party_ids)
        sigs = (await uow.signatures.for_sessions([session_id])).get(session_id, [])
    return views.session(s, sigs, rules.required_signers(med["mediator_id"], party_ids))


async def request_otp(uow: MediationUoW, principal: Principal, session_id: str, party_id: str, *,
                      sms: SmsSender) -> dict:
    """Send a one-time code to a party's phone, to sign a session record with."""
    cfg = uow.cfg
    async with uow:
        s = await common.record(uow, session_id)
        med = await common.mediation(uow, s["mediation_id"])
        parties = {x["id"]: x for x in await uow.mediations.parties(med["id"])}
        authorize_signing_for_party(principal, med, party_id)
        party = parties.get(party_id)
        if party is None:
            raise signing.unknown_party()
        if s["status"] == "sealed":
            raise Conflict("记录已封存", "the record is already sealed", code="record_sealed")
        if await uow.signatures.exists(session_id, f"party:{party_id}"):
            raise Conflict("该当事人已签名", "this party has already signed", code="already_signed")
        now = uow.now()
        if await uow.otps.count_since(session_id, party_id, now - timedelta(seconds=cfg.otp_ttl_seconds)) \
                >= signing.OTP_PER_TTL:
            raise signing.TooManyCodes()
        code = f"{secrets.randbelow(10**6):06d}"
        oid = new_id()
        expires = now + timedelta(seconds=cfg.otp_ttl_seconds)
        await uow.otps.insert(dict(id=oid, session_id=session_id, party_id=party_id, attempts=0, created_at=now,
                                   code_hash=signing.code_hash(cfg.otp_secret, oid, code), expires_at=expires))
        await uow.commit()
    await sms.send(party["phone"], signing.otp_text(s["seq"], code, cfg.otp_ttl_seconds), purpose="otp",
                   ref=session_id)
    return {"otp_id": oid, "sent_to": signing.mask(party["phone"]), "expires_at": expires}


async def _signer(uow: MediationUoW, p: Principal, med: dict, parties: dict, cmd: SignatureIn) -> tuple[str, str, str]:
    if cmd.signer == "mediator":
        authorize_mediator_signature(p, med)
        return f"mediator:{med['mediator_id']}", await uow.mediators.name(med["mediator_id"]), "mediator"
    if cmd.party_id not in parties:
        raise signing.unknown_party()
    authorize_signing_for_party(p, med, cmd.party_id)
    return f"party:{cmd.party_id}", parties[cmd.party_id]["name"], "party"


async def sign(uow: MediationUoW, principal: Principal, session_id: str, cmd: SignatureIn) -> dict:
    """Sign a record (image or one-time code); the last required signature seals it. A wrong code counts
    an attempt (committed) and is refused."""
    cfg = uow.cfg
    sealed_now = False
    async with uow:
        s0 = await common.record(uow, session_id)
        med = await common.mediation(uow, s0["mediation_id"], lock=True)  # lock order: mediation, then session
        s = await common.record(uow, session_id, lock=True)
        parties = {x["id"]: x for x in await uow.mediations.parties(med["id"])}
        signer, name, role = await _signer(uow, principal, med, parties, cmd)
        if s["status"] == "sealed":
            raise Conflict("记录已封存，不能再签名", "the record is sealed; it cannot be signed again", code="record_sealed")
        if await uow.signatures.exists(session_id, signer):
            raise Conflict("已签名，不能重复签名", "already signed", code="already_signed")
        image, image_sha = None, None
        if cmd.method == "image":
            image = signing.decode_image(cmd.image_base64 or "")
            image_sha = hashlib.sha256(image).hexdigest()
        else:
            otp = await uow.otps.latest_unused(session_id, cmd.party_id)
            if not signing.otp_usable(otp, uow.now(), cfg.otp_max_attempts):
                raise signing.code_expired()
            if not signing.code_matches(cfg.otp_secret, otp, cmd.code or ""):
                await uow.otps.failed_attempt(otp["id"])
                await uow.commit()
                raise signing.code_mismatch()
            await uow.otps.mark_used(otp["id"], uow.now())
        await uow.signatures.insert(dict(
            id=new_id(), session_id=session_id, signer=signer, signer_role=role, signer_name=name, method=cmd.method,
            image_sha256=image_sha, image=image, content_hash=records.content_hash(s), submitted_by=principal.sub,
            signed_at=uow.now()))
        sigs = (await uow.signatures.for_sessions([session_id])).get(session_id, [])
        if rules.required_signers(med["mediator_id"], list(parties)) <= {x["signer"] for x in sigs}:
            await _seal(uow, principal, med, s, sigs)
            sealed_now = True
        await uow.commit()
    out = await get_session(uow, principal, session_id)
    out["sealed_now"] = sealed_now
    return out


async def _seal(uow: MediationUoW, p: Principal, med: dict, s: dict, sigs: list[dict]) -> None:
    """All required signatures are in: seal the record into the mediation's hash chain."""
    last = await uow.sessions.last_sealed(med["id"])
    index = 0 if last is None else last["chain_index"] + 1
    prev = records.GENESIS if last is None else last["record_hash"]
    sealed = {**s, "chain_index": index, "sealed_at": uow.now(), "prev_hash": prev}
    h = records.record_hash(sealed, sigs, prev)
    await uow.sessions.update(s["id"], status="sealed", chain_index=index, prev_hash=prev,
                              sealed_at=sealed["sealed_at"], record_hash=h)
    uow.emit(SessionSealed(**common.ref(med), at=sealed["sealed_at"], by=common.actor(p), session_id=s["id"],
                           seq=s["seq"], record_hash=h, points_agreed=len(s["points_agreed"]),
                           points_outstanding=len(s["points_outstanding"])))
