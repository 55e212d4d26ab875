"""Sealed session records: canonical content, hash chain, verification. Pure.

A sealed record's hash is ``sha256(canonical_json({"content": <record content>, "prev_hash": <hash of the
previous sealed record of the mediation, or GENESIS>}))``. Canonical JSON: keys sorted, no spaces, UTF-8,
timestamps in UTC ISO 8601. Any later change to a record or a signature breaks its hash; removing or
re-ordering records breaks the links.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def _norm(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if isinstance(v, dict):
        return {str(k): _norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    return v


def plain(obj: Any) -> Any:
    """JSON-native (timestamps as UTC ISO strings): what a statement looks like once exported and read back."""
    return _norm(obj)


def canonical_json(obj: Any) -> bytes:
    return json.dumps(_norm(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def session_content(session: dict) -> dict:
    """What the signers confirm: the record itself (no signatures)."""
    return {
        "session_id": session["id"],
        "mediation_id": session["mediation_id"],
        "seq": session["seq"],
        "started_at": session["started_at"],
        "ended_at": session["ended_at"],
        "place": session["place"],
        "attendees": session["attendees"],
        "points_agreed": session["points_agreed"],
        "points_outstanding": session["points_outstanding"],
        "notes": session.get("notes"),
    }


def content_hash(session: dict) -> str:
    return sha256_hex(canonical_json(session_content(session)))


def signature_content(sig: dict) -> dict:
    """What the record's hash covers of one signature. The channel (login | otp | in_person) and, in person,
    the witness and the photo's hash are covered too (records signed before channels existed have none)."""
    out = {
        "signer": sig["signer"],
        "signer_role": sig["signer_role"],
        "signer_name": sig["signer_name"],
        "method": sig["method"],
        "image_sha256": sig.get("image_sha256"),
        "content_hash": sig["content_hash"],
        "signed_at": sig["signed_at"],
    }
    if sig.get("channel"):
        out.update(channel=sig["channel"], witness_name=sig.get("witness_name"),
                   witness_role=sig.get("witness_role"), photo_sha256=sig.get("photo_sha256"))
    return out


def sealed_content(session: dict, sigs: list[dict]) -> dict:
    return {
        "record": session_content(session),
        "signatures": sorted((signature_content(s) for s in sigs), key=lambda s: s["signer"]),
        "chain_index": session["chain_index"],
        "sealed_at": session["sealed_at"],
    }


def record_hash(session: dict, sigs: list[dict], prev_hash: str) -> str:
    return sha256_hex(canonical_json({"content": sealed_content(session, sigs), "prev_hash": prev_hash}))


@dataclass
class RecordCheck:
    session_id: str
    seq: int
    chain_index: int
    ok: bool
    problems: list[str]


def verify_chain(records: list[tuple[dict, list[dict]]]) -> list[RecordCheck]:
    """``records``: sealed sessions (with their signatures) in chain order."""
    out: list[RecordCheck] = []
    prev = GENESIS
    for expected_index, (s, sigs) in enumerate(records):
        problems = []
        if s["chain_index"] != expected_index:
            problems.append(f"chain index {s['chain_index']} != {expected_index}")
        if s["prev_hash"] != prev:
            problems.append("previous-record hash does not match / 与前一记录的哈希不一致")
        cur = content_hash(s)
        if any(sig["content_hash"] != cur for sig in sigs):
            problems.append("record differs from what was signed / 记录内容与签署时不一致")
        if record_hash(s, sigs, s["prev_hash"] or "") != s["record_hash"]:
            problems.append("record hash does not match its content / 记录哈希与内容不一致")
        out.append(RecordCheck(s["id"], s["seq"], s["chain_index"], not problems, problems))
        prev = s["record_hash"]
    return out
