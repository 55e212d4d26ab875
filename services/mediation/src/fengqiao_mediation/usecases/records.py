"""Verifying the sealed records' hash chain (and the agreement's hash)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal

from ..domain import records
from ..domain.policy import authorize_view
from . import common

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def sealed_chain(uow: MediationUoW, mediation_id: str) -> list[tuple[dict, list[dict]]]:
    rows = await uow.sessions.sealed(mediation_id)
    sigs = await uow.signatures.for_sessions([r["id"] for r in rows])
    return [(r, sigs.get(r["id"], [])) for r in rows]


async def verify_records(uow: MediationUoW, principal: Principal, mediation_id: str) -> dict:
    async with uow:
        med = await common.mediation(uow, mediation_id)
        authorize_view(principal, med, await common.party_ids(uow, mediation_id))
        chain = await sealed_chain(uow, mediation_id)
        agr = await uow.agreements.for_mediation(mediation_id)
    checks = records.verify_chain(chain)
    out = {
        "mediation_id": mediation_id,
        "records": [{"session_id": c.session_id, "seq": c.seq, "chain_index": c.chain_index, "valid": c.ok,
                     "problems": c.problems} for c in checks],
        "head": chain[-1][0]["record_hash"] if chain else None,
    }
    valid = all(c.ok for c in checks)
    if agr is not None:
        pdf_ok = hashlib.sha256(agr["pdf"]).hexdigest() == agr["sha256"]
        head_ok = any(s["record_hash"] == agr["chain_head"] for s, _ in chain)
        out["agreement"] = {"id": agr["id"], "valid": pdf_ok and head_ok, "pdf_hash_ok": pdf_ok,
                            "chain_head_ok": head_ok}
        valid = valid and pdf_ok and head_ok
    out["valid"] = valid
    return out
