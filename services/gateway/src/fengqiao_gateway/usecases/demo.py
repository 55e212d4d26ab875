"""Seeding the demo accounts and keys, idempotently: passwords and keys of the previous credentials document
are kept while they still verify; otherwise new ones are issued (only hashes are stored)."""

from __future__ import annotations

import secrets

from fengqiao_common.ids import new_id
from fengqiao_common.jurisdiction import Jurisdiction

from ..adapters.passwords import Passwords
from ..adapters.uow import GatewayUoW
from ..domain import credentials as cred
from ..domain.demo import demo_keys, demo_users


async def _user(uow: GatewayUoW, u: dict, old_password: str | None, passwords: Passwords) -> str:
    async with uow:
        row = await uow.users.by_username(u["username"])
    if row is not None and old_password and await passwords.verify(row["password_hash"], old_password):
        return old_password
    password = secrets.token_urlsafe(9)
    pw_hash = await passwords.hash(password)
    async with uow:
        now = uow.now()
        if row is None:
            await uow.users.add({"id": new_id(), "password_hash": pw_hash, "grids": u.get("grids", []),
                                 "created_at": now, "updated_at": now,
                                 **{k: v for k, v in u.items() if k != "grids"}})
        else:
            await uow.users.update(row["id"], {"password_hash": pw_hash, "disabled": False, "updated_at": now})
        await uow.commit()
    return password


async def _key(uow: GatewayUoW, k: dict, old_key: str | None) -> str:
    async with uow:
        if old_key:
            try:
                row = await uow.keys.by_prefix(cred.parse_api_key(old_key))
            except cred.CredentialError:
                row = None
            if row and row["revoked_at"] is None and row["name"] == k["name"] and cred.same(
                    row["key_hash"], cred.sha256(old_key)):
                return old_key
        key, prefix, digest = cred.new_api_key()
        now = uow.now()
        await uow.keys.revoke_named(k["name"], at=now)
        await uow.keys.add({"id": new_id(), "name": k["name"], "prefix": prefix, "key_hash": digest,
                            "scope_type": k["scope_type"], "scope": k["scope"], "created_by": "demo",
                            "created_at": now})
        await uow.commit()
    return key


async def seed_demo(uow: GatewayUoW, *, jurisdiction: Jurisdiction, passwords: Passwords, previous: dict) -> dict:
    """The credentials document ``{"users": [...], "api_keys": [...]}`` after seeding."""
    old_pw = {u.get("username"): u.get("password") for u in previous.get("users", [])}
    old_keys = {k.get("name"): k.get("key") for k in previous.get("api_keys", [])}
    out_users, out_keys = [], []
    for u in demo_users(jurisdiction):
        password = await _user(uow, u, old_pw.get(u["username"]), passwords)
        out_users.append({"username": u["username"], "password": password, "role": u["roles"][0],
                          "display_name": u["display_name"],
                          **{k: u[k] for k in ("department", "grids", "mediator_id", "party_id") if k in u}})
    for k in demo_keys(jurisdiction):
        key = await _key(uow, k, old_keys.get(k["name"]))
        out_keys.append({"name": k["name"], "key": key, "scope": k["scope"], "scope_type": k["scope_type"],
                         "label": k["label"]})
    return {"users": out_users, "api_keys": out_keys}
