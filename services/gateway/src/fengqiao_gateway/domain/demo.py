"""The demo accounts and API keys (``make run``): one account per role, one key per external system and per
department of the jurisdiction. Pure."""

from __future__ import annotations

from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DISPATCHER,
    DPO,
    GRID_WORKER,
    LEADER,
    MEDIATOR,
    PARTY,
)
from fengqiao_common.jurisdiction import Jurisdiction


def demo_users(j: Jurisdiction) -> list[dict]:
    grids = [g.code for g in j.grids]
    out = [
        {"username": "grid01", "display_name": "网格员 陈一", "roles": [GRID_WORKER], "grids": grids[0:3]},
        {"username": "grid02", "display_name": "网格员 黄二", "roles": [GRID_WORKER], "grids": grids[3:6]},
        {"username": "dispatcher", "display_name": "综治中心调度员 李明", "roles": [DISPATCHER],
         "department": j.centre.code},
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
        {"username": "dpo", "display_name": "数据保护专员", "roles": [DPO]},
    ]
    return out


def demo_keys(j: Jurisdiction) -> list[dict]:
    keys = [{"name": f"demo:{e.code}", "scope_type": "external_system", "scope": e.code, "label": e.name}
            for e in j.external_systems]
    keys += [{"name": f"demo:dept:{d.code}", "scope_type": "department", "scope": d.code, "label": d.name}
             for d in j.departments if d.role == "department"]
    return keys
