"""Seals a court can verify without our database: Ed25519 signatures over small canonical statements. Pure.

The private key never sits in the database: it comes from the settings (a key file or the key itself) and
signs three kinds of statement (canonical JSON, ``records.canonical_json``):

- ``record-seal``: one sealed session record (mediation, session, chain index, record hash, previous hash,
  sealed time); its signature and key id are stored with the record;
- ``daily-heads``: the chain head of every mediation sealed on one local day (the day's statement, exported
  as a file and an API, and sent with every judicial-confirmation application);
- ``agreement``: the agreement's points, parties, mediator and the chain head it was generated from.

A verifier needs only the published public keys (``Keyring.published()``): rewriting a row and re-hashing it
breaks the seal, and a statement signed by a key that is not published is refused.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .records import canonical_json, plain, sha256_hex

ALGORITHM = "Ed25519"
RECORD_SEAL = "fengqiao.mediation.record-seal/1"
DAILY_HEADS = "fengqiao.mediation.daily-heads/1"
AGREEMENT = "fengqiao.mediation.agreement/1"


def key_id_of(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if ("-" in text or "_" in text) \
        else base64.b64decode(text + "=" * (-len(text) % 4))


def load_private(text: str | bytes) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) private key, or the 32 raw bytes in base64 / hex."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the seal key must be an Ed25519 key")
        return key
    s = data.decode().strip()
    raw = bytes.fromhex(s) if len(s) == 64 and all(c in "0123456789abcdefABCDEF" for c in s) else _b64decode(s)
    if len(raw) != 32:
        raise ValueError("an Ed25519 private key is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public(text: str) -> Ed25519PublicKey:
    """A PEM public key, or the 32 raw bytes in base64."""
    if "-----BEGIN" in text:
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(_b64decode(text))


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_entry(pub: Ed25519PublicKey, *, current: bool) -> dict:
    raw = _raw(pub)
    return {"key_id": key_id_of(raw), "algorithm": ALGORITHM, "public_key": base64.b64encode(raw).decode(),
            "public_key_pem": pub.public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            "current": current}


@dataclass(frozen=True)
class PublishedKeys:
    """The public keys a verifier trusts, by key id (from the published keys file or the service's settings)."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: list[dict]) -> PublishedKeys:
        out = {}
        for e in entries:
            pub = load_public(e["public_key"])
            kid = key_id_of(_raw(pub))
            if e.get("key_id") not in (None, kid):
                raise ValueError(f"key id {e.get('key_id')} does not match its public key ({kid})")
            out[kid] = pub
        return cls(out)

    def check(self, statement: dict, key_id: str | None, signature: str | None) -> str | None:
        """None when ``signature`` is a valid signature of ``statement`` by a published key, else the problem."""
        if not key_id or not signature:
            return "not sealed with a key / 未加密封存"
        pub = self.keys.get(key_id)
        if pub is None:
            return f"sealed by an unpublished key {key_id} / 封存密钥未公布"
        try:
            pub.verify(base64.b64decode(signature), canonical_json(statement))
        except (InvalidSignature, ValueError):
            return "seal signature does not match / 封存签名不符"
        return None


@dataclass(frozen=True)
class Keyring:
    """The signing key (current) and the public keys published beside it (current + retired ones)."""

    private: Ed25519PrivateKey
    retired: tuple[Ed25519PublicKey, ...] = ()
    ephemeral: bool = False

    @classmethod
    def generate(cls) -> Keyring:
        return cls(Ed25519PrivateKey.generate(), ephemeral=True)

    @property
    def key_id(self) -> str:
        return key_id_of(_raw(self.private.public_key()))

    def published(self) -> list[dict]:
        return [public_entry(self.private.public_key(), current=True)] + [
            public_entry(k, current=False) for k in self.retired if key_id_of(_raw(k)) != self.key_id]

    def verifier(self) -> PublishedKeys:
        return PublishedKeys.from_entries(self.published())

    def sign(self, statement: dict) -> dict:
        """``{"key_id", "signature"}`` (base64) of the canonical statement."""
        sig = self.private.sign(canonical_json(statement))
        return {"key_id": self.key_id, "signature": base64.b64encode(sig).decode()}

    def signed(self, statement: dict) -> dict:
        return {"statement": statement, **self.sign(statement)}


def record_statement(session: dict) -> dict:
    """What the seal of one record signs (from the sealed session row)."""
    return plain({"kind": RECORD_SEAL, "mediation_id": session["mediation_id"], "session_id": session["id"],
                  "seq": session["seq"], "chain_index": session["chain_index"],
                  "record_hash": session["record_hash"], "prev_hash": session["prev_hash"],
                  "sealed_at": session["sealed_at"]})


def daily_statement(day: str, tz: str, heads: list[dict], *, final: bool) -> dict:
    """``heads``: per mediation sealed that day, its last record of the day (mediation_id, session_id,
    chain_index, record_hash, sealed_at). ``final``: the day is over (no head of that day changes any more);
    a statement of the current day lists the heads so far."""
    fields = ("mediation_id", "session_id", "chain_index", "record_hash", "sealed_at")
    rows = sorted((plain({k: h[k] for k in fields}) for h in heads), key=lambda h: h["mediation_id"])
    return {"kind": DAILY_HEADS, "day": day, "timezone": tz, "final": final, "count": len(rows), "heads": rows,
            "digest": sha256_hex(canonical_json(rows))}


def agreement_statement(*, agreement_id: str, mediation_id: str, points: list[str], chain_head: str,
                        generated_at, parties: list[dict], mediator: str | None) -> dict:
    return plain({"kind": AGREEMENT, "agreement_id": agreement_id, "mediation_id": mediation_id,
                  "points": points, "chain_head": chain_head, "generated_at": generated_at,
                  "parties": [{"side": p["side"], "name": p["name"]} for p in parties], "mediator": mediator})
