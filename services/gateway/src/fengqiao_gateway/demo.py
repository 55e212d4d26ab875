"""Demo accounts and API keys (setting demo_data, set by ``make run``): idempotent; the credentials are
written as JSON to GATEWAY_DEMO_CREDENTIALS_FILE. Passwords and keys already in that file are kept as
long as they still verify; otherwise new ones are issued (only hashes are stored)."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path

import structlog
from fengqiao_common.app import Runtime
from fengqiao_common.auth import ADMIN, DEPARTMENT_OFFICER, DISPATCHER, GRID_WORKER, LEADER, MEDIATOR, PARTY
from sqlalchemy import and_, select, update

from .adapters.orm import api_keys, users
from .domain import credentials as cred
from .service import passwords

log = structlog.get_logger("fengqiao.gateway.demo")


def demo_users(runtime: Runtime) -> list[dict]:
    j = runtime.jurisdiction
    grids = [g.code for g in j.grids]
    centre = j.centre.code
    out = [
        {"username": "grid01", "display_name": "网格员 陈一", "roles": [GRID_WORKER], "grids": grids[0:3]},
        {"username": "grid02", "display_name": "网格员 黄二", "roles": [GRID_WORKER], "grids": grids[3:6]},
        {"username": "dispatcher", "display_name": "综治中心调度员 李明", "roles": [DISPATCHER], "department": centre},
    ]
    for d in j.departments:
        if d.role == "department":
            out.append({"username": f"officer.{d.code.lower()}", "display_name": f"{d.name} 办事员",
                        "roles": [DEPARTMENT_OFFICER], "department": d.code})
    out += [
        {"username": "mediator", "display_name": "调解员 M001", "roles": [MEDIATOR], "mediator_id": "M001"},
        {"username": "party", "display_name": "当事人 P001", "roles": [PARTY], "party_id": "P001"},
        {"username": "leader", "display_name": "街道领导", "roles": [LEADER]},
        {"username": "admin", "display_name": "系统管理员", "roles": [ADMIN]},
    ]
    return out


def demo_keys(runtime: Runtime) -> list[dict]:
    j = runtime.jurisdiction
    keys = [{"name": f"demo:{e.code}", "scope_type": "external_system", "scope": e.code, "label": e.name}
            for e in j.external_systems]
    keys += [{"name": f"demo:dept:{d.code}", "scope_type": "department", "scope": d.code, "label": d.name}
             for d in j.departments if d.role == "department"]
    return keys


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


async def seed(runtime: Runtime) -> dict:
    path = Path(runtime.settings.demo_credentials_file)  # type: ignore[attr-defined]
    old = _read(path)
    old_pw = {u.get("username"): u.get("password") for u in old.get("users", [])}
    old_keys = {k.get("name"): k.get("key") for k in old.get("api_keys", [])}
    out_users, out_keys = [], []
    hasher = passwords(runtime)
    async with runtime.session_factory() as session:
        for u in demo_users(runtime):
            row = (await session.execute(select(users).where(users.c.username == u["username"]))).first()
            await session.commit()
            password = old_pw.get(u["username"])
            if row is None or not password or not await hasher.verify(row.password_hash, password):
                password = secrets.token_urlsafe(9)
                pw_hash = await hasher.hash(password)
                async with session.begin():
                    if row is None:
                        await session.execute(users.insert().values(
                            id=str(uuid.uuid4()), password_hash=pw_hash, grids=u.get("grids", []),
                            **{k: v for k, v in u.items() if k != "grids"}))
                    else:
                        await session.execute(update(users).where(users.c.id == row.id).values(
                            password_hash=pw_hash, disabled=False))
            out_users.append({"username": u["username"], "password": password, "role": u["roles"][0],
                              "display_name": u["display_name"],
                              **{k: u[k] for k in ("department", "grids", "mediator_id", "party_id") if k in u}})
        for k in demo_keys(runtime):
            key = old_keys.get(k["name"])
            valid = False
            if key:
                try:
                    prefix = cred.parse_api_key(key)
                    row = (await session.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
                    valid = bool(row and row.revoked_at is None and row.name == k["name"]
                                 and cred.same(row.key_hash, cred.sha256(key)))
                except cred.CredentialError:
                    valid = False
                await session.commit()
            if not valid:
                key, prefix, digest = cred.new_api_key()
                async with session.begin():
                    await session.execute(update(api_keys).where(and_(
                        api_keys.c.name == k["name"], api_keys.c.revoked_at.is_(None))).values(
                        revoked_at=__import__("sqlalchemy").func.now()))
                    await session.execute(api_keys.insert().values(
                        id=str(uuid.uuid4()), name=k["name"], prefix=prefix, key_hash=digest,
                        scope_type=k["scope_type"], scope=k["scope"], created_by="demo"))
            out_keys.append({"name": k["name"], "key": key, "scope": k["scope"], "scope_type": k["scope_type"],
                             "label": k["label"]})
    doc = {"users": out_users, "api_keys": out_keys}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    log.info("demo credentials written", path=str(path), users=len(out_users), api_keys=len(out_keys))
    return doc
