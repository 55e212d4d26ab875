"""Session records (过程确认): record, read, send a one-time code, sign; the last signature seals."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Forbidden, invalid
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.common import Actor
from fengqiao_events.payloads.mediation import SessionSealed

from ..adapters.sms import SmsSender
from ..domain import records, rules, seals, signing
from ..domain.policy import (
    authorize_mediator,
    authorize_mediator_signature,
    authorize_otp_request,
    authorize_view,
    party_channel,
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
    return await _session_view(uow, session_id)


async def request_otp(uow: MediationUoW, principal: Principal, session_id: str, party_id: str, *,
                      sms: SmsSender) -> dict:
    """Send a one-time code to a party's phone, to sign a session record with."""
    cfg = uow.cfg
    async with uow:
        s = await common.record(uow, session_id)
        med = await common.mediation(uow, s["mediation_id"])
        parties = {x["id"]: x for x in await uow.mediations.parties(med["id"])}
        authorize_otp_request(principal, med, party_id)
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


async def _signer(uow: MediationUoW, p: Principal | None, med: dict, parties: dict, cmd: SignatureIn
                  ) -> tuple[str, str, str, str]:
    """(signer, name, role, channel); Forbidden unless the signer uses its own channel."""
    if cmd.signer == "mediator":
        if p is None:
            raise Forbidden("仅承办调解员本人可以调解员身份签名", "only the mediator in charge signs as mediator")
        authorize_mediator_signature(p, med)
        return f"mediator:{med['mediator_id']}", await uow.mediators.name(med["mediator_id"]), "mediator", \
            signing.LOGIN
    if cmd.party_id not in parties:
        raise signing.unknown_party()
    channel = party_channel(p, med, cmd.party_id, cmd.method)
    return f"party:{cmd.party_id}", parties[cmd.party_id]["name"], "party", channel


async def _check_code(uow: MediationUoW, session_id: str, cmd: SignatureIn) -> None:
    """The one-time code sent to the party's phone; a wrong code counts an attempt (committed) and is refused."""
    otp = await uow.otps.latest_unused(session_id, cmd.party_id)
    if not signing.otp_usable(otp, uow.now(), uow.cfg.otp_max_attempts):
        raise signing.code_expired()
    if not signing.code_matches(uow.cfg.otp_secret, otp, cmd.code or ""):
        await uow.otps.failed_attempt(otp["id"])
        await uow.commit()
        raise signing.code_mismatch()
    await uow.otps.mark_used(otp["id"], uow.now())


async def sign(uow: MediationUoW, principal: Principal | None, session_id: str, cmd: SignatureIn) -> dict:
    """Sign a record through the signer's own channel (login, one-time code, or in person before the mediator
    and a witness); the last required signature seals it. ``principal`` is None for a one-time-code signature
    sent without an identity (the code is the credential)."""
    sealed_now = False
    async with uow:
        s0 = await common.record(uow, session_id)
        med = await common.mediation(uow, s0["mediation_id"], lock=True)  # lock order: mediation, then session
        s = await common.record(uow, session_id, lock=True)
        parties = {x["id"]: x for x in await uow.mediations.parties(med["id"])}
        signer, name, role, channel = await _signer(uow, principal, med, parties, cmd)
        if s["status"] == "sealed":
            raise Conflict("记录已封存，不能再签名", "the record is sealed; it cannot be signed again", code="record_sealed")
        if await uow.signatures.exists(session_id, signer):
            raise Conflict("已签名，不能重复签名", "already signed", code="already_signed")
        sigs = (await uow.signatures.for_sessions([session_id])).get(session_id, [])
        image = photo = None
        witness = {}
        if cmd.method == "otp":
            await _check_code(uow, session_id, cmd)
        else:
            image = signing.decode_image(cmd.image_base64 or "")
        if channel == signing.IN_PERSON:
            if signing.in_person_only(list(parties), sigs, cmd.party_id or ""):
                raise signing.in_person_refused()
            photo = signing.decode_image(cmd.photo_base64 or "", "photo_base64")
            witness = dict(witness_name=cmd.witness_name, witness_role=cmd.witness_role,
                           photo=photo, photo_sha256=records.sha256_hex(photo))
        await uow.signatures.insert(dict(
            id=new_id(), session_id=session_id, signer=signer, signer_role=role, signer_name=name, method=cmd.method,
            channel=channel, image_sha256=records.sha256_hex(image) if image else None, image=image,
            content_hash=records.content_hash(s), submitted_by=principal.sub if principal else f"otp:{cmd.party_id}",
            signed_at=uow.now(), **witness))
        sigs = (await uow.signatures.for_sessions([session_id])).get(session_id, [])
        if rules.required_signers(med["mediator_id"], list(parties)) <= {x["signer"] for x in sigs} \
                and signing.seal_problem(list(parties), sigs) is None:
            by = common.actor(principal) if principal else Actor(id=f"otp:{cmd.party_id}", role="party")
            await _seal(uow, by, med, s, sigs)
            sealed_now = True
        await uow.commit()
    out = await _session_view(uow, session_id)
    out["sealed_now"] = sealed_now
    return out


async def _session_view(uow: MediationUoW, session_id: str) -> dict:
    async with uow:
        s = await common.record(uow, session_id)
        med = await common.mediation(uow, s["mediation_id"])
        party_ids = await common.party_ids(uow, med["id"])
        sigs = (await uow.signatures.for_sessions([session_id])).get(session_id, [])
        mediator = await uow.mediators.name(med["mediator_id"]) if med["mediator_id"] else None
    return views.session(s, sigs, rules.required_signers(med["mediator_id"], party_ids), mediator=mediator)


async def _seal(uow: MediationUoW, by: Actor, med: dict, s: dict, sigs: list[dict]) -> None:
    """All required signatures are in: seal the record into the mediation's hash chain, and sign the seal with
    the service's key (which the database does not hold)."""
    last = await uow.sessions.last_sealed(med["id"])
    index = 0 if last is None else last["chain_index"] + 1
    prev = records.GENESIS if last is None else last["record_hash"]
    sealed = {**s, "chain_index": index, "sealed_at": uow.now(), "prev_hash": prev}
    h = records.record_hash(sealed, sigs, prev)
    seal = uow.cfg.keys.sign(seals.record_statement({**sealed, "record_hash": h}))
    await uow.sessions.update(s["id"], status="sealed", chain_index=index, prev_hash=prev,
                              sealed_at=sealed["sealed_at"], record_hash=h, seal_key_id=seal["key_id"],
                              seal_signature=seal["signature"])
    uow.emit(SessionSealed(**common.ref(med), at=sealed["sealed_at"], by=by, session_id=s["id"],
                           seq=s["seq"], record_hash=h, points_agreed=len(s["points_agreed"]),
                           points_outstanding=len(s["points_outstanding"])))
