"""Record bundles: what a court needs to check a mediation's sealed records without our database. Pure.

A bundle (``FORMAT``) holds, per sealed record, the hashed content (record + signatures + chain index +
sealed time), the previous hash, the record hash and its seal (key id + Ed25519 signature of the record-seal
statement); the signed daily statements of the days the records were sealed; and, once generated, the signed
agreement statement. ``verify_bundle`` recomputes every hash and checks every signature against the
*published* keys given by the verifier (never keys taken from the bundle itself).
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from . import records, rules, seals
from .seals import PublishedKeys

FORMAT = "fengqiao.mediation.record-bundle/1"
PDF_ATTACHMENT = "fengqiao-record-bundle.json"
# In the agreement PDF the bundle is attached uncompressed as ASCII JSON with sorted keys, so it starts with
# this key and a verifier without a PDF library finds it; PDF readers list it as an attachment.
PDF_MARKER = b'{"agreement":'


def bundle_bytes(bundle: dict) -> bytes:
    data = json.dumps(bundle, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    assert data.startswith(PDF_MARKER)
    return data


def bundle_from_pdf(pdf: bytes) -> dict | None:
    """The bundle attached to an agreement PDF (None if there is none)."""
    i = pdf.find(PDF_MARKER)
    if i < 0:
        return None
    obj, _ = json.JSONDecoder().raw_decode(pdf[i:].decode("latin-1"))
    return obj


def record_entry(session: dict, sigs: list[dict]) -> dict:
    return records.plain({"content": records.sealed_content(session, sigs), "prev_hash": session["prev_hash"],
                          "record_hash": session["record_hash"],
                          "seal": {"key_id": session.get("seal_key_id"),
                                   "signature": session.get("seal_signature")}})


def seal_problem(session: dict, keys: PublishedKeys) -> str | None:
    """The sealed row's seal against the published keys (None: valid)."""
    return keys.check(seals.record_statement(session), session.get("seal_key_id"), session.get("seal_signature"))


def build(mediation_id: str, chain: list[tuple[dict, list[dict]]], statements: list[dict],
          agreement: dict | None) -> dict:
    return {"format": FORMAT, "mediation_id": mediation_id, "records": [record_entry(s, g) for s, g in chain],
            "statements": statements, "agreement": agreement}


def _statement_of(entry: dict) -> dict:
    rec = entry["content"]["record"]
    c = entry["content"]
    return {"kind": seals.RECORD_SEAL, "mediation_id": rec["mediation_id"], "session_id": rec["session_id"],
            "seq": rec["seq"], "chain_index": c["chain_index"], "record_hash": entry["record_hash"],
            "prev_hash": entry["prev_hash"], "sealed_at": c["sealed_at"]}


def _check_record(entry: dict, index: int, prev: str, keys: PublishedKeys) -> list[str]:
    c = entry["content"]
    problems = []
    if c["chain_index"] != index:
        problems.append(f"chain index {c['chain_index']} != {index}")
    if entry["prev_hash"] != prev:
        problems.append("previous-record hash does not match / 与前一记录的哈希不一致")
    content_hash = records.sha256_hex(records.canonical_json(c["record"]))
    if any(s["content_hash"] != content_hash for s in c["signatures"]):
        problems.append("record differs from what was signed / 记录内容与签署时不一致")
    got = records.sha256_hex(records.canonical_json({"content": c, "prev_hash": entry["prev_hash"]}))
    if got != entry["record_hash"]:
        problems.append("record hash does not match its content / 记录哈希与内容不一致")
    seal = entry.get("seal") or {}
    p = keys.check(_statement_of(entry), seal.get("key_id"), seal.get("signature"))
    if p:
        problems.append(p)
    party_channels = [s.get("channel") for s in c["signatures"] if s["signer_role"] == "party"]
    if party_channels and all(ch == "in_person" for ch in party_channels):
        problems.append("every party signed in person only / 各方当事人均仅现场见证签名")
    return problems


def _day_of(sealed_at: str, tz: str) -> str:
    return datetime.fromisoformat(sealed_at).astimezone(ZoneInfo(tz)).date().isoformat()


def _check_statements(bundle: dict, statements: list[dict], keys: PublishedKeys) -> tuple[list[dict], list[str]]:
    """Each signed daily statement must be valid; for every day a statement covers, this mediation's head in
    it must be one of the bundle's records sealed that day (the last one once the day is over)."""
    out, problems = [], []
    recs = bundle["records"]
    for st in statements:
        body = st.get("statement") or {}
        p = keys.check(body, st.get("key_id"), st.get("signature")) if body.get("kind") == seals.DAILY_HEADS \
            else "not a daily statement / 不是每日链头声明"
        if p is None and body["digest"] != records.sha256_hex(records.canonical_json(body["heads"])):
            p = "statement digest does not match its heads / 声明摘要不符"
        day = body.get("day")
        if p is None:
            mine = [h for h in body["heads"] if h["mediation_id"] == bundle["mediation_id"]]
            of_day = [r for r in recs if _day_of(r["content"]["sealed_at"], body["timezone"]) == day]
            if of_day and not mine:
                p = f"the statement of {day} does not list this mediation / 当日声明未列入本案"
            elif mine:
                hashes = [r["record_hash"] for r in of_day]
                if mine[0]["record_hash"] not in hashes:
                    p = f"the statement of {day} lists another chain head / 当日声明的链头与记录不符"
                elif body.get("final") and mine[0]["record_hash"] != hashes[-1]:
                    p = f"the final statement of {day} lists an earlier chain head / 当日最终声明的链头不是最后一条记录"
        out.append({"day": day, "key_id": st.get("key_id"), "valid": p is None, "problem": p})
        if p:
            problems.append(p)
    return out, problems


def _check_agreement(bundle: dict, keys: PublishedKeys) -> tuple[dict | None, list[str]]:
    agr = bundle.get("agreement")
    if not agr:
        return None, []
    body = agr.get("statement") or {}
    problems = []
    p = keys.check(body, agr.get("key_id"), agr.get("signature")) if body.get("kind") == seals.AGREEMENT \
        else "not an agreement statement / 不是调解协议声明"
    if p:
        problems.append(p)
    recs = bundle["records"]
    if not recs or body.get("chain_head") != recs[-1]["record_hash"]:
        problems.append("the agreement was not generated from these records / 协议与记录链头不符")
    elif body.get("points") != rules.agreement_points([r["content"]["record"] for r in recs])[0]:
        problems.append("the agreement's points differ from the records' / 协议事项与调解记录不符")
    return {"agreement_id": body.get("agreement_id"), "valid": not problems, "problems": problems,
            "points": body.get("points"), "parties": body.get("parties")}, problems


def verify_bundle(bundle: dict, keys: PublishedKeys, extra_statements: list[dict] | None = None) -> dict:
    """The verifier's report: ``valid`` only if every record, statement and the agreement check out."""
    problems: list[str] = []
    if bundle.get("format") != FORMAT:
        return {"valid": False, "problems": [f"unknown bundle format {bundle.get('format')!r}"], "records": []}
    checks, prev = [], records.GENESIS
    for i, entry in enumerate(bundle["records"]):
        if entry["content"]["record"]["mediation_id"] != bundle["mediation_id"]:
            ps = ["record of another mediation / 不属于本案的记录"]
        else:
            ps = _check_record(entry, i, prev, keys)
        checks.append({"session_id": entry["content"]["record"]["session_id"],
                       "seq": entry["content"]["record"]["seq"], "chain_index": entry["content"]["chain_index"],
                       "valid": not ps, "problems": ps})
        problems += ps
        prev = entry["record_hash"]
    if not bundle["records"]:
        problems.append("no sealed record / 没有已封存的记录")
    stmts, sp = _check_statements(bundle, list(bundle.get("statements") or []) + list(extra_statements or []), keys)
    agr, ap = _check_agreement(bundle, keys)
    problems += sp + ap
    return {"valid": not problems, "mediation_id": bundle["mediation_id"], "records": checks,
            "statements": stmts, "agreement": agr, "head": prev if bundle["records"] else None,
            "problems": problems}
