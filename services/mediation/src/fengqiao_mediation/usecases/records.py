"""Verifying the sealed records (hash chain + Ed25519 seals, and the agreement), exporting them as a bundle a
court can check offline, the published seal keys and the signed daily chain-head statements."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import structlog
from fengqiao_common.auth import Principal
from fengqiao_common.errors import invalid

from ..domain import bundle, records, seals
from ..domain.policy import authorize_view
from . import common

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW

log = structlog.get_logger("fengqiao.mediation")


async def sealed_chain(uow: MediationUoW, mediation_id: str) -> list[tuple[dict, list[dict]]]:
    rows = await uow.sessions.sealed(mediation_id)
    sigs = await uow.signatures.for_sessions([r["id"] for r in rows])
    return [(r, sigs.get(r["id"], [])) for r in rows]


def chain_problems(chain: list[tuple[dict, list[dict]]], keys: seals.PublishedKeys) -> list[records.RecordCheck]:
    """The hash chain recomputed, and every record's seal checked against the published keys."""
    checks = records.verify_chain(chain)
    for c, (s, _) in zip(checks, chain, strict=True):
        p = bundle.seal_problem(s, keys)
        if p:
            c.problems.append(p)
            c.ok = False
    return checks


def _agreement_check(agr: dict, chain: list, keys: seals.PublishedKeys) -> dict:
    pdf_ok = hashlib.sha256(agr["pdf"]).hexdigest() == agr["sha256"]
    head_ok = bool(chain) and chain[-1][0]["record_hash"] == agr["chain_head"]
    st = agr.get("seal_statement")
    seal_ok = st is not None and st.get("chain_head") == agr["chain_head"] and st.get("points") == agr["points"] \
        and keys.check(st, agr.get("seal_key_id"), agr.get("seal_signature")) is None
    return {"id": agr["id"], "valid": pdf_ok and head_ok and seal_ok, "pdf_hash_ok": pdf_ok,
            "chain_head_ok": head_ok, "seal_ok": seal_ok}


async def verify_records(uow: MediationUoW, principal: Principal, mediation_id: str) -> dict:
    keys = uow.cfg.keys.verifier()
    async with uow:
        med = await common.mediation(uow, mediation_id)
        authorize_view(principal, med, await common.party_ids(uow, mediation_id))
        chain = await sealed_chain(uow, mediation_id)
        agr = await uow.agreements.for_mediation(mediation_id)
    checks = chain_problems(chain, keys)
    out = {
        "mediation_id": mediation_id,
        "records": [{"session_id": c.session_id, "seq": c.seq, "chain_index": c.chain_index, "valid": c.ok,
                     "problems": c.problems, "seal_key_id": s.get("seal_key_id")}
                    for c, (s, _) in zip(checks, chain, strict=True)],
        "head": chain[-1][0]["record_hash"] if chain else None,
    }
    valid = all(c.ok for c in checks)
    if agr is not None:
        out["agreement"] = _agreement_check(agr, chain, keys)
        valid = valid and out["agreement"]["valid"]
    out["valid"] = valid
    return out


def seal_keys(uow: MediationUoW) -> dict:
    """The published public keys (current and retired): what a court verifies seals and statements with."""
    return {"algorithm": seals.ALGORITHM, "keys": uow.cfg.keys.published()}


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid("day", "日期格式应为 YYYY-MM-DD", "day must be YYYY-MM-DD", "bad_day", loc=["path", "day"]) \
            from None


async def day_statement(uow: MediationUoW, day: str | date) -> dict:
    """The signed statement of one local day's chain heads (every mediation with a record sealed that day, its
    last record of the day). Heads whose own seal does not verify are left out (and logged)."""
    d = _day(day) if isinstance(day, str) else day
    async with uow:
        return await statement_in(uow, d)


async def statement_in(uow: MediationUoW, d: date) -> dict:
    """``day_statement`` inside an open unit of work."""
    tz = uow.cfg.tz
    start = datetime.combine(d, time(0), tz)
    end = datetime.combine(d + timedelta(days=1), time(0), tz)
    keys = uow.cfg.keys.verifier()
    heads = await uow.sessions.heads_sealed_between(start, end)
    now = uow.now()
    good = []
    for h in heads:
        problem = bundle.seal_problem(h, keys)
        if problem:
            log.warning("chain head left out of the daily statement", session_id=h["id"], problem=problem)
            continue
        good.append({**h, "session_id": h["id"]})
    stmt = seals.daily_statement(d.isoformat(), tz.key, good, final=now >= end)
    return uow.cfg.keys.signed(stmt)


def days_of(chain: list[tuple[dict, list[dict]]], tz) -> list[date]:
    return sorted({s["sealed_at"].astimezone(tz).date() for s, _ in chain})


async def record_bundle(uow: MediationUoW, principal: Principal, mediation_id: str) -> dict:
    """The mediation's sealed records with their seals, the signed statements of the days they were sealed
    and the signed agreement statement: checked offline by ``fengqiao-verify-record``."""
    async with uow:
        med = await common.mediation(uow, mediation_id)
        authorize_view(principal, med, await common.party_ids(uow, mediation_id))
        chain = await sealed_chain(uow, mediation_id)
        agr = await uow.agreements.for_mediation(mediation_id)
        statements = [await statement_in(uow, d) for d in days_of(chain, uow.cfg.tz)]
    return bundle.build(mediation_id, chain, statements, signed_agreement(agr))


def signed_agreement(agr: dict | None) -> dict | None:
    if agr is None or not agr.get("seal_statement"):
        return None
    return {"statement": agr["seal_statement"], "key_id": agr["seal_key_id"], "signature": agr["seal_signature"]}


async def export_daily_statements(uow: MediationUoW, *, out, days_back: int = 7) -> list[str]:
    """Write the final statement of each of the last ``days_back`` local days that has none yet (``out``:
    ``exists(day)`` / ``write(day, signed)``, adapters/statements.py). Returns the days written."""
    today = uow.now().astimezone(uow.cfg.tz).date()
    written = []
    for back in range(days_back, 0, -1):
        day = (today - timedelta(days=back)).isoformat()
        if out.exists(day):
            continue
        signed = await day_statement(uow, day)
        if signed["statement"]["final"]:
            out.write(day, signed)
            written.append(day)
    return written
