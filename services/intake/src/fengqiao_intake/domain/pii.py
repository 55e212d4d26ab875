"""Masking of personal data (names, phones, ID-card numbers) for everyone who may not read it."""

from __future__ import annotations

import hashlib


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
    if not value:
        return value
    if len(value) <= 4:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * (len(value) - 4) + value[-4:]


def mask_party(p: dict) -> dict:
    out = dict(p)
    out["name"] = mask_name(p.get("name"))
    out["phone"] = mask_phone(p.get("phone"))
    out["id_card"] = mask_id_card(p.get("id_card"))
    if p.get("email"):
        user, _, host = p["email"].partition("@")
        out["email"] = (user[:1] + "***@" + host) if host else "***"
    out["masked"] = True
    return out


def parties_view(parties: list[dict], may_see_pii: bool) -> list[dict]:
    if may_see_pii:
        return [{**p, "masked": False} for p in parties]
    return [mask_party(p) for p in parties]


def requester_ref(*parts: str | None) -> str | None:
    """A stable pseudonymous id for a requester (no personal data leaves intake)."""
    material = "|".join(p.strip() for p in parts if p)
    if not material:
        return None
    return "req-" + hashlib.sha256(material.encode()).hexdigest()[:24]
