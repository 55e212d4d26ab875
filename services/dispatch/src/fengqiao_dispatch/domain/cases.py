"""A case as dispatch sees it: its status machine and the checks on the centre's commands.

new -> routed (orders created) | queued (no rule matched, an order returned, mediation failed);
routed/queued -> resolved (lead resolved, every assisting order done) -> closed (all verified);
any open case -> mediation (transferred) -> resolved -> closed (mediation confirmed);
resolved/closed -> new (reopened, re-routed with a fresh clock); any but closed -> merged.
"""

from __future__ import annotations

from fengqiao_common.errors import Conflict, Invalid, field_error
from fengqiao_common.jurisdiction import Jurisdiction

from . import orders as om
from .rules import CaseFacts

NEW = "new"
ROUTED = "routed"
QUEUED = "queued"
RESOLVED = "resolved"
CLOSED = "closed"
MEDIATION = "mediation"
MERGED = "merged"
STATUSES = (NEW, ROUTED, QUEUED, RESOLVED, CLOSED, MEDIATION, MERGED)

BRIEF_KEYS = ("case_id", "case_no", "category", "grade", "summary", "description", "grid", "community", "location",
              "people_involved", "status", "clock_started_at")


def facts(case: dict) -> CaseFacts:
    return CaseFacts.of(category=case["category"], grade=case["grade"], grid=case["grid"],
                        community=case["community"], people_involved=case["people_involved"],
                        summary=case["summary"], description=case["description"], keywords=case["keywords"])


def brief(case: dict) -> dict:
    return {k: case[k] for k in BRIEF_KEYS}


def reopenable(status: str) -> bool:
    return status in (RESOLVED, CLOSED)


def mergeable(status: str) -> bool:
    return status not in (MERGED, CLOSED)


def requeued_on_return(status: str) -> bool:
    """A returned order sends the case back to the centre's queue (unless it is in mediation, closed...)."""
    return status in (ROUTED, RESOLVED, QUEUED)


def may_resolve(status: str) -> bool:
    # "queued" too: a returned assisting order that the centre did not replace does not block the lead
    return status in (ROUTED, QUEUED)


def ensure_referable(case: dict) -> None:
    if case["status"] in (CLOSED, MERGED, MEDIATION):
        raise Conflict("案件当前状态不能转调解", "the case cannot be transferred now", code="illegal_transition",
                       status=case["status"])


def mediation_category(given: str | None, case: dict, j: Jurisdiction) -> str:
    """The category asked for, or the case's own domain when it is a mediation category."""
    codes = {c.code for c in j.mediation_categories}
    category = given or (case["category"] if case["category"] in codes else None)
    if category not in codes:
        raise Invalid("请选择调解类别", "choose a mediation category", fields=[field_error(
            "category", "value_error", f"调解类别应为：{'、'.join(sorted(codes))}",
            f"mediation category must be one of: {', '.join(sorted(codes))}", loc=["body", "category"])])
    return category


def check_departments(lead: str | None, assist: list[str], j: Jurisdiction) -> None:
    """The departments the centre names for a manual dispatch exist, are not the centre, not repeated."""
    errs = []
    for i, code in enumerate([lead, *assist]):
        if code is None:
            continue
        field = "lead" if i == 0 else f"assist.{i - 1}"
        dept = j.department(code)
        if dept is None or dept.role == "centre":
            errs.append(field_error(field, "value_error", f"不是可派单的部门：{code}",
                                    f"not a department to order: {code}", loc=["body", *field.split(".")]))
    if lead is None and not assist:
        errs.append(field_error("lead", "missing", "请至少指定一个部门", "name at least one department",
                                loc=["body", "lead"]))
    if len({lead, *assist} - {None}) != len([x for x in [lead, *assist] if x]):
        errs.append(field_error("assist", "value_error", "部门重复", "a department is named twice",
                                loc=["body", "assist"]))
    if errs:
        raise Invalid("请求参数有误", "request validation failed", fields=errs)


def check_manual_dispatch(case: dict, existing: list[dict], lead: str | None, assist: list[str]) -> None:
    """A manual dispatch needs a queued case, one active lead, and departments not ordered already."""
    if case["status"] != QUEUED:
        raise Conflict("案件不在人工派单队列中", "the case is not waiting for manual dispatch", code="case_not_queued",
                       status=case["status"])
    active = [o for o in existing if o["status"] in om.ACTIVE]
    has_lead = any(o["role"] == "lead" for o in active)
    if lead and has_lead:
        raise Conflict("案件已有牵头部门", "the case already has an active lead order", code="lead_exists",
                       status=case["status"])
    if not lead and not has_lead:
        raise Invalid("请指定牵头部门", "a lead department is required", fields=[field_error(
            "lead", "missing", "请指定牵头部门", "a lead department is required", loc=["body", "lead"])])
    busy = {o["department"] for o in active} & {lead, *assist}
    if busy:
        raise Conflict("该部门已有此案件的工单", f"already ordered: {', '.join(sorted(busy))}", code="department_busy",
                       status=case["status"])


def reroute_links(existing: list[dict], lead: str | None, assist: list[str]) -> dict[str, str]:
    """Link each new order to a returned one of the same role that was not re-routed yet."""
    rerouted = {o["reroute_of"] for o in existing if o["reroute_of"]}
    returned = [o for o in existing if o["status"] == om.RETURNED and o["order_id"] not in rerouted]
    links = {}
    for code, role in ([(lead, "lead")] if lead else []) + [(a, "assist") for a in assist]:
        match = next((o for o in returned if o["role"] == role), None)
        if match:
            links[code] = match["order_id"]
            returned.remove(match)
    return links
