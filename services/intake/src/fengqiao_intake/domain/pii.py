"""Masking of personal data (names, phones, ID-card numbers) and the requester pseudonym (pure)."""

from __future__ import annotations

import hashlib
import hmac
import re

# requester_ref schemes (case_requesters.requester_ref_scheme)
HMAC_SCHEME = "hmac-sha256"  # HMAC-SHA256(INTAKE_REQUESTER_KEY, normalised phone or ID number)
PENDING_SCHEME = "pending"  # a row from before the HMAC: recomputed by the rekey task
LEGACY_SCHEME = "legacy-sha256"  # from before the HMAC and no raw data left to recompute it: never sent on


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) <= 4:
        return "*" * len(phone)
    keep_head = 3 if len(phone) >= 11 else 0
    return phone[:keep_head] + "*" * (len(phone) - keep_head - 4) + phone[-4:]


def mask_id_card(value: str | None) -> str | None:
    """``4401**********1234``: the region of issue and the last four, never the birth date."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    user, _, host = email.partition("@")
    return (user[:1] + "***@" + host) if host else "***"


def mask_party(p: dict) -> dict:
    """Every personal field masked (contact data and ID number)."""
    out = dict(p)
    out["name"] = mask_name(p.get("name"))
    out["phone"] = mask_phone(p.get("phone"))
    out["id_card"] = mask_id_card(p.get("id_card"))
    if p.get("email"):
        out["email"] = mask_email(p["email"])
    out["masked"] = True
    return out


def party_view(p: dict, *, contact: bool, id_number: bool) -> dict:
    """``contact``: name, phone and e-mail in full; ``id_number``: the ID number in full.
    ``masked`` tells whether the contact data is masked; ``id_card_masked`` the ID number."""
    out = dict(p)
    if not contact:
        out["name"] = mask_name(p.get("name"))
        out["phone"] = mask_phone(p.get("phone"))
        if p.get("email"):
            out["email"] = mask_email(p["email"])
    if not id_number and "id_card" in p:
        out["id_card"] = mask_id_card(p["id_card"])
    out["masked"] = not contact
    out["id_card_masked"] = bool(p.get("id_card")) and not id_number
    return out


def parties_view(parties: list[dict], *, contact: bool, id_number: bool = False) -> list[dict]:
    return [party_view(p, contact=contact, id_number=id_number) for p in parties]


_NOT_DIGIT = re.compile(r"\D")


def normalise_phone(phone: str | None) -> str | None:
    """Digits only, without the country code: ``+86 138-1234-5678`` and ``13812345678`` are one number."""
    if not phone:
        return None
    digits = _NOT_DIGIT.sub("", phone)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits or None


def requester_ref(key: bytes, *, phone: str | None = None, id_card: str | None = None) -> str | None:
    """A stable pseudonym of a requester: HMAC-SHA256 under a key only intake holds, over the
    normalised phone number (else the ID number). Not keyed on the channel or the system, so the same
    person through the hall and through 粤省事 has the same ref; without the key it cannot be
    reversed by trying every phone number. No phone and no ID number: no ref (a name is not an id)."""
    number = normalise_phone(phone)
    if number:
        material = "phone:" + number
    elif id_card and id_card.strip():
        material = "id:" + id_card.strip().upper()
    else:
        return None
    return "req-" + hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


def requester_of(parties: list[dict] | None) -> dict | None:
    """The requesting party of a case, if any."""
    return next((p for p in parties or () if p.get("role") == "requester"), None)


def ref_of_parties(key: bytes, parties: list[dict] | None) -> str | None:
    r = requester_of(parties)
    return requester_ref(key, phone=r.get("phone"), id_card=r.get("id_card")) if r else None


def id_ref_of_parties(key: bytes, parties: list[dict] | None) -> str | None:
    """The pseudonym of the requester's ID number alone (the same function as ``requester_ref`` without a
    phone), kept next to ``requester_ref``: a case from the hall (phone + ID number) and one from 粤省事 (ID
    number only) are linked through it, and one with the same phone through ``requester_ref``."""
    r = requester_of(parties)
    return requester_ref(key, id_card=r.get("id_card")) if r and r.get("id_card") else None
