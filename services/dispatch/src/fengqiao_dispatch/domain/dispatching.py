"""What dispatching a case to departments creates (pure): the order rows, their timers, the timeline
rows and the ``order.dispatched`` events, computed from the case, the plan and the grade's limits.
The use case writes each list with one statement per table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fengqiao_common.ids import new_id
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events.payloads.common import Actor, Location
from fengqiao_events.payloads.order import Deadlines, OrderDispatched

from . import orders as om
from . import timers as tm
from .rules import StoredRule
from .timelimits import deadlines_for


@dataclass
class DispatchPlan:
    orders: list[dict] = field(default_factory=list)
    timers: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    events: list[OrderDispatched] = field(default_factory=list)


def plan_orders(case: dict, *, lead: str | None, assist: list[str], on_site_required: bool,
                rule: StoredRule | None, actor: Actor, now: datetime, jurisdiction: Jurisdiction,
                reroute_of: dict[str, str] | None = None) -> DispatchPlan:
    j = jurisdiction
    grade = j.grade(case["grade"])
    start = case["clock_started_at"]  # a return never restarts the case's clock
    dl = deadlines_for(grade, start, on_site_required=on_site_required)
    out = DispatchPlan()
    by = actor.model_dump(mode="json")
    plan = ([(lead, "lead")] if lead else []) + [(a, "assist") for a in assist]
    for dept_code, role in plan:
        dept = j.department(dept_code)
        order_id = new_id()
        row = dict(
            order_id=order_id, case_id=case["case_id"], department=dept.code, department_name=dept.name,
            level=dept.level, role=role, status=om.DISPATCHED, seq=1,
            rule_id=rule.rule_id if rule else None, rule_version=rule.version if rule else None,
            dispatched_by=by, on_site_required=on_site_required,
            clock_started_at=start, sign_for_by=dl.sign_for_by, on_site_by=dl.on_site_by, resolve_by=dl.resolve_by,
            reroute_of=(reroute_of or {}).get(dept_code), created_at=now, updated_at=now,
        )
        for stage in ("sign_for", "on_site", "resolve"):
            deadline = dl.of(stage)
            if deadline is None:
                continue
            for t in tm.plan(stage, start, deadline):
                out.timers.append(dict(order_id=order_id, case_id=case["case_id"], stage=t.stage, kind=t.kind,
                                       due_at=t.due_at))
        out.timeline.append(dict(
            case_id=case["case_id"], order_id=order_id, kind="order.dispatched", at=now, actor=by,
            detail={"department": dept.code, "role": role, "rule_id": row["rule_id"],
                    "rule_version": row["rule_version"], "reroute_of": row["reroute_of"]},
        ))
        out.events.append(OrderDispatched(
            order_id=order_id, case_id=case["case_id"], case_no=case["case_no"], department=dept.code, seq=1,
            at=now, by=actor, department_name=dept.name, level=dept.level, role=role, category=case["category"],
            grade=case["grade"], summary=case["summary"], description=case["description"], grid=case["grid"],
            community=case["community"], location=Location.model_validate(case["location"] or {}),
            deadlines=Deadlines(sign_for_by=dl.sign_for_by, on_site_by=dl.on_site_by, resolve_by=dl.resolve_by),
            rule_id=row["rule_id"], rule_version=row["rule_version"], on_site_required=on_site_required,
            reroute_of=row["reroute_of"],
        ))
        out.orders.append(row)
    return out
