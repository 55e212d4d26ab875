"""Routing rules: list, read (current or a version), create, save a new version, retire; the demo seed."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_common.ids import new_id
from fengqiao_common.jurisdiction import Jurisdiction

from ..adapters.uow import DispatchUoW
from ..domain.rules import RuleBody, seed_rules, validate_against
from .commands import CreateRule, SaveRule


def rule_view(row: dict) -> dict:
    return {"rule_id": row["rule_id"], "version": row["version"], "deleted": row["deleted"],
            "created_by": row["created_by"], "created_at": row["created_at"], **row["body"]}


def _check(body: RuleBody, j: Jurisdiction) -> None:
    errs = validate_against(body, j)
    if errs:
        raise Invalid("路由规则有误", "invalid routing rule", fields=errs)


async def seed_demo_rules(uow: DispatchUoW, *, jurisdiction: Jurisdiction) -> int:
    """Idempotent: inserts version 1 of each demo rule unless the rule id exists."""
    n = 0
    async with uow:
        for rule_id, body in seed_rules(jurisdiction):
            if await uow.rules.add_first(rule_id, body.model_dump(mode="json"), "seed") is not None:
                n += 1
        await uow.commit()
    return n


async def list_rules(uow: DispatchUoW, principal: Principal, *, include_deleted: bool = False) -> list[dict]:
    async with uow:
        return [rule_view(r) for r in await uow.rules.listing(include_deleted=include_deleted)]


async def rule_versions(uow: DispatchUoW, principal: Principal, rule_id: str) -> list[dict]:
    async with uow:
        rows = await uow.rules.versions(rule_id)
    if not rows:
        raise NotFound("routing rule", "路由规则")
    return [rule_view(r) for r in rows]


async def get_rule(uow: DispatchUoW, principal: Principal, rule_id: str, version: int | None = None) -> dict:
    async with uow:
        row = await uow.rules.get(rule_id, version)
    if row is None:
        raise NotFound("routing rule", "路由规则")
    return rule_view(row)


async def create_rule(uow: DispatchUoW, principal: Principal, cmd: CreateRule, *, jurisdiction: Jurisdiction) -> dict:
    _check(cmd.body, jurisdiction)
    rule_id = cmd.rule_id or f"rule-{new_id().replace('-', '')[:12]}"
    async with uow:
        row = await uow.rules.add_first(rule_id, cmd.body.model_dump(mode="json"), principal.sub)
        if row is None:
            raise Conflict("规则编号已存在", f"rule {rule_id} already exists", code="rule_exists")
        await uow.commit()
    return rule_view(row)


async def save_rule_version(uow: DispatchUoW, principal: Principal, cmd: SaveRule, *,
                            jurisdiction: Jurisdiction) -> dict:
    """A new version of a rule (an edit, or a deletion marker)."""
    if cmd.body is not None:
        _check(cmd.body, jurisdiction)
    async with uow:
        cur = await uow.rules.get(cmd.rule_id, lock=True)
        if cur is None or (cur["deleted"] and cmd.delete):
            raise NotFound("routing rule", "路由规则")
        if cmd.base_version is not None and cmd.base_version != cur["version"]:
            raise Conflict("规则已被他人修改", "the rule was changed meanwhile", code="version_conflict",
                           current_version=cur["version"])
        body = cmd.body.model_dump(mode="json") if cmd.body is not None else cur["body"]
        row = await uow.rules.add_version(cmd.rule_id, cur["version"] + 1, body, deleted=cmd.delete,
                                          created_by=principal.sub)
        await uow.commit()
    return rule_view(row)
