"""The views (plain dicts) the use cases return; api/schemas.py describes them as response models."""

from __future__ import annotations

from ..domain.matcher import Proposal
from ..domain.signing import IN_PERSON, in_person_note


def mediator(m: dict, leaves: list[dict] | None, load: int, private: bool = True) -> dict:
    """``private``: the declared relations (names of people and organisations) are shown only to admins and
    the mediator itself."""
    out = {k: m[k] for k in ("id", "name", "kind", "gender", "categories", "dialects", "capacity", "outreach",
                             "weekly", "active")}
    if private:
        out["relations"] = m["relations"]
    out["load"] = load
    if leaves is not None:
        out["leaves"] = [{k: x[k] for k in ("id", "starts_at", "ends_at", "reason")} for x in leaves]
    return out


def proposal(p: Proposal) -> dict:
    return {
        "mediator_id": p.mediator_id, "name": p.name, "kind": p.kind, "score": p.score, "load": p.load,
        "capacity": p.capacity, "reasons": p.reasons,
        "slots": [{"starts_at": s.start, "ends_at": s.end} for s in p.slots],
    }


def mediation_brief(m: dict) -> dict:
    return {k: m[k] for k in ("id", "case_id", "case_no", "source", "external_system", "category", "status",
                              "mediator_id", "created_at", "updated_at")}


def party(p: dict, full: bool) -> dict:
    phone = p["phone"] if full else p["phone"][:3] + "****" + p["phone"][-4:]
    return {"id": p["id"], "side": p["side"], "name": p["name"], "organisation": p["organisation"], "phone": phone}


def booking(b: dict) -> dict:
    return {k: b[k] for k in ("id", "mediation_id", "mediator_id", "starts_at", "ends_at", "mode", "address",
                              "status", "replaces", "cancel_reason", "created_at")}


def signature(s: dict, mediator: str | None = None) -> dict:
    channel = s.get("channel")
    witness = None
    if channel == IN_PERSON:
        witness = {"name": s["witness_name"], "role": s["witness_role"], "photo_sha256": s["photo_sha256"],
                   "statement": in_person_note(s["signer_name"], mediator, s["witness_name"], s["witness_role"])}
    return {"signer": s["signer"], "signer_role": s["signer_role"], "signer_name": s["signer_name"],
            "method": s["method"], "channel": channel, "image_sha256": s["image_sha256"],
            "signed_at": s["signed_at"], "content_hash": s["content_hash"], "in_person": witness}


def session(s: dict, sigs: list[dict], required: set[str], mediator: str | None = None) -> dict:
    signed = {x["signer"] for x in sigs}
    return {
        **{k: s[k] for k in ("id", "mediation_id", "seq", "booking_id", "started_at", "ended_at", "place",
                             "attendees", "points_agreed", "points_outstanding", "notes", "status", "chain_index",
                             "prev_hash", "record_hash", "sealed_at")},
        "seal_key_id": s.get("seal_key_id"), "seal_signature": s.get("seal_signature"),
        "signatures": [signature(x, mediator) for x in sigs],
        "pending_signers": sorted(required - signed) if s["status"] != "sealed" else [],
    }


def agreement(a: dict) -> dict:
    return {"id": a["id"], "sha256": a["sha256"], "points": a["points"], "generated_at": a["generated_at"],
            "apply_by": a["apply_by"], "pdf_url": f"/api/v1/mediation/agreements/{a['id']}/pdf",
            **({"mediation_id": a["mediation_id"], "chain_head": a["chain_head"]} if "chain_head" in a else {})}


def application(a: dict) -> dict:
    return {k: a[k] for k in ("id", "mediation_id", "agreement_id", "court", "external_ref", "status", "ruling_no",
                              "reason", "material_request", "history", "applied_at", "decided_at")}
