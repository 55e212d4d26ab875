"""Use cases of dispatch: load, decide (domain), save, emit to the outbox - one transaction each.

Functions called from the API open their own transaction; consumer handlers run inside the
consumer's transaction (they never commit). Every state change writes its outbox events and a
timeline entry in the same transaction. Time always comes from the runtime's clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from fengqiao_common.auth import ADMIN, DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM, DISPATCHER, LEADER, Principal
from fengqiao_common.errors import ApiError, conflict, not_found
from fengqiao_events import Envelope
from fengqiao_events.payloads.case import CaseMerged, CaseReopened, GridEventReported
from fengqiao_events.payloads.common import SYSTEM, Actor, Location
from fengqiao_events.payloads.mediation import MediationConfirmed, MediationFailed
from fengqiao_events.payloads.order import (
    CaseClosed,
    CaseQueued,
    CaseResolved,
    DeadlineMissed,
    Deadlines,
    DepartmentCheckedIn,
    MediationReferred,
    OrderCancelled,
    OrderDispatched,
    OrderEscalated,
    OrderProgressed,
    OrderReminded,
    OrderResolved,
    OrderReturned,
    OrderSigned,
    OrderVerified,
)
from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import repo
from .adapters.orm import cases, orders, routing_rules, timeline, timers
from .clock import clock_of
from .domain import orders as om
from .domain import timers as tm
from .domain.rules import CaseFacts, RuleBody, StoredRule, choose, seed_rules, validate_against
from .domain.timelimits import deadlines_for

log = structlog.get_logger("fengqiao.dispatch")

CENTRE_ROLES = (DISPATCHER, LEADER, ADMIN)
DEPARTMENT_ROLES = (DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)


def _now(rt) -> datetime:
    return clock_of(rt).now()


def _actor(principal: Principal | None) -> Actor:
    return Actor(**principal.actor()) if principal else SYSTEM


async def _emit(rt, session: AsyncSession, *payloads: BaseModel, causation: Envelope | None = None) -> None:
    await rt.outbox.add(session, *payloads, causation=causation)


# ----------------------------------------------------------------------------------------------
# Routing rules
# ----------------------------------------------------------------------------------------------
def _rule_out(row) -> dict:
    return {"rule_id": row["rule_id"], "version": row["version"], "deleted": row["deleted"],
            "created_by": row["created_by"], "created_at": row["created_at"], **row["body"]}


async def seed_demo_rules(rt) -> int:
    """Idempotent: inserts version 1 of each demo rule unless the rule id exists."""
    n = 0
    async with rt.session_factory() as session, session.begin():
        for rule_id, body in seed_rules(rt.jurisdiction):
            res = await session.execute(
                pg_insert(routing_rules)
                .values(rule_id=rule_id, version=1, body=body.model_dump(mode="json"), is_current=True,
                        created_by="seed")
                .on_conflict_do_nothing()
            )
            n += res.rowcount or 0
    return n


async def current_rules(session: AsyncSession, *, per_transaction: bool = False) -> list[StoredRule]:
    """The current routing rules. ``per_transaction``: read once per session (a consumer batch routes all
    its cases with the rules as its first read saw them)."""
    info = session.sync_session.info
    if per_transaction and "fq_dispatch_rules" in info:
        return info["fq_dispatch_rules"]
    rows = (await session.execute(
        select(routing_rules).where(routing_rules.c.is_current, routing_rules.c.deleted.is_(False))
    )).mappings()
    rules = [StoredRule(r["rule_id"], r["version"], RuleBody.model_validate(r["body"])) for r in rows]
    if per_transaction:
        info["fq_dispatch_rules"] = rules
    return rules


def _check_rule(rt, body: RuleBody) -> None:
    errs = validate_against(body, rt.jurisdiction)
    if errs:
        raise ApiError(422, "validation_failed", "路由规则有误", "invalid routing rule", fields=errs)


async def list_rules(rt, include_deleted: bool = False) -> list[dict]:
    async with rt.session_factory() as session:
        q = select(routing_rules).where(routing_rules.c.is_current)
        if not include_deleted:
            q = q.where(routing_rules.c.deleted.is_(False))
        rows = (await session.execute(q.order_by(routing_rules.c.rule_id))).mappings()
        return [_rule_out(r) for r in rows]


async def rule_versions(rt, rule_id: str) -> list[dict]:
    async with rt.session_factory() as session:
        rows = (await session.execute(
            select(routing_rules).where(routing_rules.c.rule_id == rule_id).order_by(routing_rules.c.version)
        )).mappings().all()
    if not rows:
        raise not_found("routing rule", "路由规则")
    return [_rule_out(r) for r in rows]


async def get_rule(rt, rule_id: str, version: int | None = None) -> dict:
    async with rt.session_factory() as session:
        q = select(routing_rules).where(routing_rules.c.rule_id == rule_id)
        q = q.where(routing_rules.c.version == version) if version else q.where(routing_rules.c.is_current)
        row = (await session.execute(q)).mappings().first()
    if row is None:
        raise not_found("routing rule", "路由规则")
    return _rule_out(row)


async def create_rule(rt, rule_id: str | None, body: RuleBody, principal: Principal) -> dict:
    _check_rule(rt, body)
    rule_id = rule_id or f"rule-{uuid.uuid4().hex[:12]}"
    async with rt.session_factory() as session, session.begin():
        res = await session.execute(
            pg_insert(routing_rules)
            .values(rule_id=rule_id, version=1, body=body.model_dump(mode="json"), is_current=True,
                    created_by=principal.sub)
            .on_conflict_do_nothing().returning(routing_rules)
        )
        row = res.mappings().first()
        if row is None:
            raise conflict("rule_exists", "规则编号已存在", f"rule {rule_id} already exists")
        return _rule_out(row)


async def save_rule_version(rt, rule_id: str, body: RuleBody | None, principal: Principal, *,
                            base_version: int | None = None, delete: bool = False) -> dict:
    """A new version of a rule (an edit, or a deletion marker). ``base_version`` guards lost updates."""
    if body is not None:
        _check_rule(rt, body)
    async with rt.session_factory() as session, session.begin():
        cur = (await session.execute(
            select(routing_rules).where(routing_rules.c.rule_id == rule_id, routing_rules.c.is_current)
            .with_for_update()
        )).mappings().first()
        if cur is None or (cur["deleted"] and delete):
            raise not_found("routing rule", "路由规则")
        if base_version is not None and base_version != cur["version"]:
            raise conflict("version_conflict", "规则已被他人修改", "the rule was changed meanwhile",
                           current_version=cur["version"])
        await session.execute(
            update(routing_rules).where(routing_rules.c.rule_id == rule_id, routing_rules.c.is_current)
            .values(is_current=False)
        )
        row = (await session.execute(
            routing_rules.insert().values(
                rule_id=rule_id, version=cur["version"] + 1,
                body=body.model_dump(mode="json") if body is not None else cur["body"],
                is_current=True, deleted=delete, created_by=principal.sub,
            ).returning(routing_rules)
        )).mappings().one()
        return _rule_out(row)


# ----------------------------------------------------------------------------------------------
# Cases arriving, routing, orders
# ----------------------------------------------------------------------------------------------
def _facts(case: dict) -> CaseFacts:
    return CaseFacts.of(category=case["category"], grade=case["grade"], grid=case["grid"],
                        community=case["community"], people_involved=case["people_involved"],
                        summary=case["summary"], description=case["description"], keywords=case["keywords"])


async def receive_case(rt, session: AsyncSession, env: Envelope, p: GridEventReported) -> None:
    """Consumer of grid.event.reported: keep a copy of the case and route it."""
    now = _now(rt)
    res = await session.execute(
        pg_insert(cases).values(
            case_id=p.case_id, case_no=p.case_no, category=p.category, grade=p.grade, summary=p.summary,
            description=p.description, grid=p.grid, community=p.community,
            location=p.location.model_dump(mode="json"), people_involved=p.people_involved,
            keywords=p.keywords, status="new", clock_started_at=now, reported_at=p.reported_at,
            created_at=now, updated_at=now,
        ).on_conflict_do_nothing().returning(*cases.c)
    )
    row = res.mappings().first()
    if row is None:
        return  # already known (a re-sent report)
    case = dict(row)  # inserted by this transaction: nobody else can see or lock it yet
    await repo.add_timeline(session, case_id=p.case_id, kind="case.received", at=now,
                            actor=p.reporter.model_dump(mode="json") if p.reporter else None,
                            detail={"category": p.category, "grade": p.grade, "channel": p.channel})
    await route_by_rules(rt, session, case, causation=env, rules_per_transaction=True)


async def route_by_rules(rt, session: AsyncSession, case: dict, *, causation: Envelope | None,
                         rules_per_transaction: bool = False) -> None:
    now = _now(rt)
    rule = choose(await current_rules(session, per_transaction=rules_per_transaction), _facts(case))
    if rule is None:
        await _queue(rt, session, case, "no_rule_matched", now, causation=causation)
        return
    await _create_orders(
        rt, session, case, lead=rule.body.lead, assist=rule.body.assist, on_site_required=rule.body.on_site_required,
        rule=rule, actor=SYSTEM, causation=causation,
    )


async def _queue(rt, session, case: dict, reason: str, now: datetime, *, causation=None, actor=None) -> None:
    await repo.update_case(session, case["case_id"], status="queued", queue_reason=reason, updated_at=now)
    await repo.add_timeline(session, case_id=case["case_id"], kind="case.queued", at=now,
                            actor=actor.model_dump(mode="json") if actor else None, detail={"reason": reason})
    await _emit(rt, session, CaseQueued(case_id=case["case_id"], case_no=case["case_no"], reason=reason, at=now),
                causation=causation)


async def _create_orders(rt, session, case: dict, *, lead: str | None, assist: list[str], on_site_required: bool,
                         rule: StoredRule | None, actor: Actor, causation=None,
                         reroute_of: dict[str, str] | None = None) -> list[dict]:
    j = rt.jurisdiction
    now = _now(rt)
    grade = j.grade(case["grade"])
    start = case["clock_started_at"]  # a return never restarts the case's clock
    dl = deadlines_for(grade, start, on_site_required=on_site_required)
    created, timer_rows, timeline_rows, payloads = [], [], [], []
    plan = ([(lead, "lead")] if lead else []) + [(a, "assist") for a in assist]
    for dept_code, role in plan:
        dept = j.department(dept_code)
        order_id = str(uuid.uuid4())
        row = dict(
            order_id=order_id, case_id=case["case_id"], department=dept.code, department_name=dept.name,
            level=dept.level, role=role, status=om.DISPATCHED, seq=1,
            rule_id=rule.rule_id if rule else None, rule_version=rule.version if rule else None,
            dispatched_by=actor.model_dump(mode="json"), on_site_required=on_site_required,
            clock_started_at=start, sign_for_by=dl.sign_for_by, on_site_by=dl.on_site_by, resolve_by=dl.resolve_by,
            reroute_of=(reroute_of or {}).get(dept_code), created_at=now, updated_at=now,
        )
        for stage in ("sign_for", "on_site", "resolve"):
            deadline = dl.of(stage)
            if deadline is None:
                continue
            for t in tm.plan(stage, start, deadline):
                timer_rows.append(dict(order_id=order_id, case_id=case["case_id"], stage=t.stage, kind=t.kind,
                                       due_at=t.due_at))
        timeline_rows.append(dict(
            case_id=case["case_id"], order_id=order_id, kind="order.dispatched", at=now,
            actor=actor.model_dump(mode="json"),
            detail={"department": dept.code, "role": role, "rule_id": row["rule_id"],
                    "rule_version": row["rule_version"], "reroute_of": row["reroute_of"]},
        ))
        payloads.append(OrderDispatched(
            order_id=order_id, case_id=case["case_id"], case_no=case["case_no"], department=dept.code, seq=1,
            at=now, by=actor, department_name=dept.name, level=dept.level, role=role, category=case["category"],
            grade=case["grade"], summary=case["summary"], description=case["description"], grid=case["grid"],
            community=case["community"], location=Location.model_validate(case["location"] or {}),
            deadlines=Deadlines(sign_for_by=dl.sign_for_by, on_site_by=dl.on_site_by, resolve_by=dl.resolve_by),
            rule_id=row["rule_id"], rule_version=row["rule_version"], on_site_required=on_site_required,
            reroute_of=row["reroute_of"],
        ))
        created.append(row)
    if created:  # one executemany per table for all of the case's orders
        await session.execute(orders.insert(), created)
        if timer_rows:
            await session.execute(timers.insert(), timer_rows)
        await session.execute(timeline.insert(), timeline_rows)
        await _emit(rt, session, *payloads, causation=causation)
    await repo.update_case(session, case["case_id"], status="routed", queue_reason=None, updated_at=now)
    return created


async def manual_dispatch(rt, case_id: str, *, lead: str | None, assist: list[str], on_site_required: bool,
                          principal: Principal) -> list[dict]:
    """The centre picks departments for a queued case (no rule matched, or an order was returned)."""
    j = rt.jurisdiction
    errs = []
    for i, code in enumerate([lead, *assist]):
        if code is None:
            continue
        field = "lead" if i == 0 else f"assist.{i - 1}"
        dept = j.department(code)
        if dept is None or dept.role == "centre":
            errs.append({"field": field, "loc": ["body", *field.split(".")], "code": "value_error",
                         "message_zh": f"不是可派单的部门：{code}", "message_en": f"not a department to order: {code}"})
    if lead is None and not assist:
        errs.append({"field": "lead", "loc": ["body", "lead"], "code": "missing",
                     "message_zh": "请至少指定一个部门", "message_en": "name at least one department"})
    if len({lead, *assist} - {None}) != len([x for x in [lead, *assist] if x]):
        errs.append({"field": "assist", "loc": ["body", "assist"], "code": "value_error",
                     "message_zh": "部门重复", "message_en": "a department is named twice"})
    if errs:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=errs)
    async with rt.session_factory() as session, session.begin():
        case = await repo.lock_case(session, case_id)
        if case is None:
            raise not_found("case", "案件")
        if case["status"] != "queued":
            raise conflict("case_not_queued", "案件不在人工派单队列中", "the case is not waiting for manual dispatch",
                           status=case["status"])
        existing = await repo.case_orders(session, case_id)
        active = [o for o in existing if o["status"] in om.ACTIVE]
        has_lead = any(o["role"] == "lead" for o in active)
        if lead and has_lead:
            raise conflict("lead_exists", "案件已有牵头部门", "the case already has an active lead order",
                           status=case["status"])
        if not lead and not has_lead:
            raise ApiError(422, "validation_failed", "请指定牵头部门", "a lead department is required",
                           fields=[{"field": "lead", "loc": ["body", "lead"], "code": "missing",
                                    "message_zh": "请指定牵头部门", "message_en": "a lead department is required"}])
        busy = {o["department"] for o in active} & {lead, *assist}
        if busy:
            raise conflict("department_busy", "该部门已有此案件的工单", f"already ordered: {', '.join(sorted(busy))}",
                           status=case["status"])
        # Link each new order to a returned one of the same role that was not re-routed yet.
        rerouted = {o["reroute_of"] for o in existing if o["reroute_of"]}
        returned = [o for o in existing if o["status"] == om.RETURNED and o["order_id"] not in rerouted]
        links = {}
        for code, role in ([(lead, "lead")] if lead else []) + [(a, "assist") for a in assist]:
            match = next((o for o in returned if o["role"] == role), None)
            if match:
                links[code] = match["order_id"]
                returned.remove(match)
        return await _create_orders(rt, session, case, lead=lead, assist=list(assist),
                                    on_site_required=on_site_required, rule=None, actor=_actor(principal),
                                    reroute_of=links)


# ----------------------------------------------------------------------------------------------
# Order actions by departments and the centre
# ----------------------------------------------------------------------------------------------
def _may_read(principal: Principal, order: dict) -> bool:
    if principal.has(*CENTRE_ROLES):
        return True
    return principal.has(*DEPARTMENT_ROLES) and principal.department == order["department"]


def _ref(order: dict, seq: int, now: datetime, actor: Actor) -> dict:
    return dict(order_id=order["order_id"], case_id=order["case_id"], department=order["department"], seq=seq,
                at=now, by=actor)


async def _load_for_action(session, order_id: str, principal: Principal, *, centre: bool = False):
    """Locks the case, then the order (always in this order). Another department's order is 404."""
    order = await repo.get_order(session, order_id)
    if order is None:
        raise not_found("order", "工单")
    if centre:
        if not principal.has(DISPATCHER, ADMIN):
            if _may_read(principal, order):
                raise ApiError(403, "forbidden", "只有综治中心可以核验", "only the centre verifies")
            raise not_found("order", "工单")
    elif not (principal.has(*DEPARTMENT_ROLES, ADMIN) and principal.department == order["department"]):
        if principal.has(*CENTRE_ROLES):
            raise ApiError(403, "forbidden", "只有承办部门可以办理工单", "only the owning department acts on its order")
        raise not_found("order", "工单")
    case = await repo.lock_case(session, order["case_id"])
    order = await repo.get_order(session, order_id, lock=True)
    return case, order


def _transition(action: str, order: dict) -> str:
    try:
        return om.next_status(action, order["status"], on_site_required=order["on_site_required"])
    except om.TransitionError as exc:
        raise conflict("illegal_transition", exc.zh, str(exc), status=order["status"],
                       order_id=order["order_id"]) from exc


def _within(deadline: datetime | None, now: datetime) -> bool:
    return deadline is None or now <= deadline


def _officer(principal: Principal, given: str | None) -> str:
    return given or principal.name or principal.sub


async def sign_for(rt, order_id: str, principal: Principal, officer: str | None) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal)
        status = _transition("sign_for", order)
        now, actor, who = _now(rt), _actor(principal), _officer(principal, officer)
        seq = await repo.update_order(session, order_id, status=status, signed_by=who, signed_at=now, updated_at=now)
        await repo.cancel_timers(session, order_id, now, ("sign_for",))
        within = _within(order["sign_for_by"], now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id, kind="order.signed", at=now,
                                actor=actor.model_dump(mode="json"), detail={"officer": who, "within_limit": within})
        await _emit(rt, session, OrderSigned(**_ref(order, seq, now, actor), case_no=case["case_no"], officer=who,
                                             within_limit=within))
        return await repo.get_order(session, order_id)


async def check_in(rt, order_id: str, principal: Principal, officer: str | None, location: Location) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal)
        status = _transition("check_in", order)
        now, actor, who = _now(rt), _actor(principal), _officer(principal, officer)
        loc = location.model_dump(mode="json")
        seq = await repo.update_order(session, order_id, status=status, checked_in_by=who, checked_in_at=now,
                                      check_in_location=loc, updated_at=now)
        await repo.cancel_timers(session, order_id, now, ("on_site",))
        within = _within(order["on_site_by"], now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id, kind="department.checked-in",
                                at=now, actor=actor.model_dump(mode="json"),
                                detail={"officer": who, "location": loc, "within_limit": within})
        await _emit(rt, session, DepartmentCheckedIn(**_ref(order, seq, now, actor), case_no=case["case_no"],
                                                     officer=who, location=location, within_limit=within))
        return await repo.get_order(session, order_id)


async def progress(rt, order_id: str, principal: Principal, note: str, attachments: list[str]) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal)
        status = _transition("progress", order)
        now, actor = _now(rt), _actor(principal)
        seq = await repo.update_order(session, order_id, status=status, updated_at=now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id, kind="order.progressed", at=now,
                                actor=actor.model_dump(mode="json"), detail={"note": note, "attachments": attachments})
        await _emit(rt, session, OrderProgressed(**_ref(order, seq, now, actor), case_no=case["case_no"], note=note,
                                                 attachments=attachments))
        return await repo.get_order(session, order_id)


async def resolve(rt, order_id: str, principal: Principal, result: str, evidence: list[str]) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal)
        status = _transition("resolve", order)
        now, actor = _now(rt), _actor(principal)
        seq = await repo.update_order(session, order_id, status=status, resolved_at=now, result=result,
                                      evidence=evidence, updated_at=now)
        await repo.cancel_timers(session, order_id, now)
        within = _within(order["resolve_by"], now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id, kind="order.resolved", at=now,
                                actor=actor.model_dump(mode="json"),
                                detail={"result": result, "evidence": evidence, "within_limit": within})
        await _emit(rt, session, OrderResolved(**_ref(order, seq, now, actor), case_no=case["case_no"], result=result,
                                               evidence=evidence, within_limit=within))
        await _check_case_progress(rt, session, case, now)
        return await repo.get_order(session, order_id)


async def return_order(rt, order_id: str, principal: Principal, reason: str) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal)
        status = _transition("return", order)
        now, actor = _now(rt), _actor(principal)
        seq = await repo.update_order(session, order_id, status=status, return_reason=reason, returned_at=now,
                                      updated_at=now)
        await repo.cancel_timers(session, order_id, now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id, kind="order.returned", at=now,
                                actor=actor.model_dump(mode="json"), detail={"reason": reason})
        await _emit(rt, session, OrderReturned(**_ref(order, seq, now, actor), case_no=case["case_no"], reason=reason))
        if case["status"] in ("routed", "resolved", "queued"):
            await _queue(rt, session, case, f"returned by {order['department']}: {reason}", now, actor=actor)
        return await repo.get_order(session, order_id)


async def verify(rt, order_id: str, principal: Principal, accepted: bool, comment: str | None) -> dict:
    async with rt.session_factory() as session, session.begin():
        case, order = await _load_for_action(session, order_id, principal, centre=True)
        status = _transition("verify" if accepted else "reject", order)
        now, actor = _now(rt), _actor(principal)
        seq = await repo.update_order(session, order_id, status=status, verified_at=now if accepted else None,
                                      updated_at=now)
        await repo.add_timeline(session, case_id=order["case_id"], order_id=order_id,
                                kind="order.verified" if accepted else "order.rejected", at=now,
                                actor=actor.model_dump(mode="json"), detail={"accepted": accepted, "comment": comment})
        await _emit(rt, session, OrderVerified(**_ref(order, seq, now, actor), case_no=case["case_no"],
                                               accepted=accepted, comment=comment))
        if not accepted and case["status"] == "resolved":
            await repo.update_case(session, case["case_id"], status="routed", resolved_at=None, updated_at=now)
        await _check_case_progress(rt, session, case, now, actor=actor)
        return await repo.get_order(session, order_id)


async def _check_case_progress(rt, session, case: dict, now: datetime, actor: Actor | None = None) -> None:
    """Resolved when the lead is resolved and every assisting order is done; closed when the centre has
    verified every order. Runs under the case lock, so joint orders finishing at once decide once."""
    case = await repo.get_case(session, case["case_id"])
    roles = [(o["role"], o["status"]) for o in await repo.case_orders(session, case["case_id"])]
    # "queued" too: a returned assisting order that the centre did not replace does not block the lead
    if case["status"] in ("routed", "queued") and om.case_resolved(roles):
        depts = [o["department"] for o in await repo.case_orders(session, case["case_id"]) if o["status"] in om.ACTIVE]
        await repo.update_case(session, case["case_id"], status="resolved", resolved_at=now, queue_reason=None,
                               updated_at=now)
        await repo.add_timeline(session, case_id=case["case_id"], kind="case.resolved", at=now,
                                detail={"departments": depts})
        await _emit(rt, session, CaseResolved(case_id=case["case_id"], case_no=case["case_no"], at=now,
                                              departments=depts))
        case["status"] = "resolved"
    if case["status"] == "resolved" and om.case_closed(roles):
        await _close_case(rt, session, case, now, actor)


async def _close_case(rt, session, case: dict, now: datetime, actor: Actor | None, causation=None) -> None:
    await repo.update_case(session, case["case_id"], status="closed", closed_at=now, updated_at=now)
    await repo.add_timeline(session, case_id=case["case_id"], kind="case.closed", at=now,
                            actor=actor.model_dump(mode="json") if actor else None)
    await _emit(rt, session, CaseClosed(case_id=case["case_id"], case_no=case["case_no"], at=now, by=actor),
                causation=causation)


async def _cancel_open_orders(rt, session, case: dict, reason: str, now: datetime, actor: Actor,
                              causation=None) -> None:
    for o in await repo.case_orders(session, case["case_id"]):
        if o["status"] not in om.OPEN:
            continue
        o = await repo.get_order(session, o["order_id"], lock=True)
        seq = await repo.update_order(session, o["order_id"], status=om.CANCELLED, updated_at=now)
        await repo.cancel_timers(session, o["order_id"], now)
        await repo.add_timeline(session, case_id=case["case_id"], order_id=o["order_id"], kind="order.cancelled",
                                at=now, actor=actor.model_dump(mode="json"), detail={"reason": reason})
        await _emit(rt, session, OrderCancelled(**_ref(o, seq, now, actor), case_no=case["case_no"], reason=reason),
                    causation=causation)


async def refer_to_mediation(rt, case_id: str, principal: Principal, category: str | None, note: str | None) -> dict:
    j = rt.jurisdiction
    async with rt.session_factory() as session, session.begin():
        case = await repo.lock_case(session, case_id)
        if case is None:
            raise not_found("case", "案件")
        if case["status"] in ("closed", "merged", "mediation"):
            raise conflict("illegal_transition", "案件当前状态不能转调解", "the case cannot be transferred now",
                           status=case["status"])
        codes = {c.code for c in j.mediation_categories}
        category = category or (case["category"] if case["category"] in codes else None)
        if category not in codes:
            raise ApiError(422, "validation_failed", "请选择调解类别", "choose a mediation category", fields=[
                {"field": "category", "loc": ["body", "category"], "code": "value_error",
                 "message_zh": f"调解类别应为：{'、'.join(sorted(codes))}",
                 "message_en": f"mediation category must be one of: {', '.join(sorted(codes))}"}])
        now, actor = _now(rt), _actor(principal)
        await _cancel_open_orders(rt, session, case, "transferred to mediation", now, actor)
        referral_id = str(uuid.uuid4())
        await repo.update_case(session, case_id, status="mediation", updated_at=now)
        await repo.add_timeline(session, case_id=case_id, kind="mediation.referred", at=now,
                                actor=actor.model_dump(mode="json"),
                                detail={"referral_id": referral_id, "category": category, "note": note})
        await _emit(rt, session, MediationReferred(
            referral_id=referral_id, case_id=case_id, case_no=case["case_no"], category=category,
            summary=case["summary"], grid=case["grid"], community=case["community"], at=now, by=actor,
        ))
        return {"referral_id": referral_id, "case_id": case_id, "category": category, "at": now}


# ----------------------------------------------------------------------------------------------
# Other services' events
# ----------------------------------------------------------------------------------------------
async def on_case_reopened(rt, session: AsyncSession, env: Envelope, p: CaseReopened) -> None:
    case = await repo.lock_case(session, p.case_id)
    if case is None or case["status"] not in ("resolved", "closed"):
        return
    now = _now(rt)
    await _cancel_open_orders(rt, session, case, "case reopened", now, SYSTEM, causation=env)
    await repo.update_case(session, p.case_id, status="new", clock_started_at=now, resolved_at=None,
                           closed_at=None, updated_at=now)
    await repo.add_timeline(session, case_id=p.case_id, kind="case.reopened", at=now,
                            actor=p.by.model_dump(mode="json"), detail={"reason": p.reason})
    case = await repo.lock_case(session, p.case_id)
    await route_by_rules(rt, session, case, causation=env)


async def on_case_merged(rt, session: AsyncSession, env: Envelope, p: CaseMerged) -> None:
    case = await repo.lock_case(session, p.case_id)
    if case is None or case["status"] in ("merged", "closed"):
        return
    now = _now(rt)
    await _cancel_open_orders(rt, session, case, f"merged into {p.into_case_no}", now, SYSTEM, causation=env)
    await repo.update_case(session, p.case_id, status="merged", updated_at=now)
    await repo.add_timeline(session, case_id=p.case_id, kind="case.merged", at=now,
                            actor=p.by.model_dump(mode="json"), detail={"into_case_id": p.into_case_id})


async def on_mediation_confirmed(rt, session: AsyncSession, env: Envelope, p: MediationConfirmed) -> None:
    if not p.case_id:
        return
    case = await repo.lock_case(session, p.case_id)
    if case is None or case["status"] != "mediation":
        return
    now = _now(rt)
    await repo.update_case(session, p.case_id, status="resolved", resolved_at=now, updated_at=now)
    await repo.add_timeline(session, case_id=p.case_id, kind="mediation.confirmed", at=now,
                            actor=p.by.model_dump(mode="json") if p.by else None,
                            detail={"mediation_id": p.mediation_id, "ruling_no": p.ruling_no, "court": p.court})
    await _emit(rt, session, CaseResolved(case_id=p.case_id, case_no=case["case_no"], at=now), causation=env)
    await _close_case(rt, session, case, now, p.by, causation=env)


async def on_mediation_failed(rt, session: AsyncSession, env: Envelope, p: MediationFailed) -> None:
    if not p.case_id:
        return
    case = await repo.lock_case(session, p.case_id)
    if case is None or case["status"] != "mediation":
        return
    now = _now(rt)
    await repo.add_timeline(session, case_id=p.case_id, kind="mediation.failed", at=now,
                            actor=p.by.model_dump(mode="json") if p.by else None,
                            detail={"mediation_id": p.mediation_id, "handed_to": p.handed_to})
    await _queue(rt, session, case, f"mediation failed; handed to {p.handed_to}", now, causation=env)


# ----------------------------------------------------------------------------------------------
# Timers
# ----------------------------------------------------------------------------------------------
async def fire_due_timers(rt, replica: str = "") -> int:
    """Fire the timers due by the clock's now, in one transaction. Rows are claimed with
    FOR UPDATE SKIP LOCKED, so replicas share the work and a timer fires once: its fired_at commits
    with the events it emits."""
    now = _now(rt)
    j = rt.jurisdiction
    async with rt.session_factory() as session, session.begin():
        due = (await session.execute(
            select(timers)
            .where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None), timers.c.due_at <= now)
            .order_by(timers.c.due_at, timers.c.id)
            .limit(rt.settings.timer_batch_size)
            .with_for_update(skip_locked=True)
        )).mappings().all()
        for t in due:
            order = await repo.get_order(session, t["order_id"], lock=True)
            if not tm.still_due(t["stage"], order["status"]):
                await session.execute(update(timers).where(timers.c.id == t["id"]).values(cancelled_at=now))
                continue
            case = await repo.get_case(session, order["case_id"])
            seq = await repo.update_order(session, order["order_id"], updated_at=order["updated_at"])
            ref = dict(_ref(order, seq, now, SYSTEM), case_no=case["case_no"], stage=t["stage"], due_at=t["due_at"])
            detail: dict[str, Any] = {"stage": t["stage"], "due_at": t["due_at"].isoformat(),
                                      "deadline": order[f"{t['stage']}_by"].isoformat()}
            if t["kind"] == tm.REMIND:
                payload, kind = OrderReminded(**ref), "order.reminded"
            elif t["kind"] == tm.OVERDUE:
                payload, kind = DeadlineMissed(**ref), "deadline.missed"
            else:
                level = "street_leader" if t["kind"] == tm.ESCALATE_STREET else "district"
                dom = j.domain(case["category"])
                to = [d for d in (dom.escalate_to if dom else []) if d != order["department"]] \
                    if level == "district" else []
                payload, kind = OrderEscalated(**ref, level=level, escalate_to=to), "order.escalated"
                detail.update(level=level, escalate_to=to)
            await session.execute(update(timers).where(timers.c.id == t["id"]).values(fired_at=now, fired_by=replica))
            await repo.add_timeline(session, case_id=order["case_id"], order_id=order["order_id"], kind=kind, at=now,
                                    actor=SYSTEM.model_dump(mode="json"), detail=detail)
            await _emit(rt, session, payload)
        return len(due)


# ----------------------------------------------------------------------------------------------
# Queries
# ----------------------------------------------------------------------------------------------
async def list_orders(rt, principal: Principal, *, status: str | None, department: str | None,
                      case_id: str | None, limit: int, offset: int) -> list[dict]:
    q = select(orders)
    if not principal.has(*CENTRE_ROLES):
        if not principal.has(*DEPARTMENT_ROLES) or not principal.department:
            raise ApiError(403, "forbidden", "无权查看工单", "not allowed to list orders")
        q = q.where(orders.c.department == principal.department)
    elif department:
        q = q.where(orders.c.department == department)
    if status:
        q = q.where(orders.c.status == status)
    if case_id:
        q = q.where(orders.c.case_id == case_id)
    q = q.order_by(orders.c.created_at.desc(), orders.c.order_id).limit(limit).offset(offset)
    async with rt.session_factory() as session:
        return [dict(r) for r in (await session.execute(q)).mappings()]


async def order_view(rt, order_id: str, principal: Principal) -> dict:
    async with rt.session_factory() as session:
        order = await repo.get_order(session, order_id)
        if order is None or not _may_read(principal, order):
            raise not_found("order", "工单")
        case = await repo.get_case(session, order["case_id"])
        events = (await session.execute(
            select(timeline).where(timeline.c.order_id == order_id).order_by(timeline.c.id)
        )).mappings().all()
        return {**order, "case": _case_brief(case), "history": [dict(e) for e in events]}


def _case_brief(case: dict) -> dict:
    keys = ("case_id", "case_no", "category", "grade", "summary", "description", "grid", "community", "location",
            "people_involved", "status", "clock_started_at")
    return {k: case[k] for k in keys}


async def case_view(rt, case_id: str) -> dict:
    async with rt.session_factory() as session:
        case = await repo.get_case(session, case_id)
        if case is None:
            raise not_found("case", "案件")
        os_ = await repo.case_orders(session, case_id)
        tl = (await session.execute(
            select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.id)
        )).mappings().all()
        ts = (await session.execute(
            select(timers).where(timers.c.case_id == case_id).order_by(timers.c.due_at, timers.c.id)
        )).mappings().all()
    return {
        **case, "orders": os_, "timeline": [dict(e) for e in tl],
        "escalations": [dict(e) for e in tl if e["kind"] == "order.escalated"],
        "timers": [dict(t) for t in ts],
    }


async def queue(rt, limit: int, offset: int) -> list[dict]:
    async with rt.session_factory() as session:
        rows = (await session.execute(
            select(cases).where(cases.c.status == "queued").order_by(cases.c.updated_at, cases.c.case_id)
            .limit(limit).offset(offset)
        )).mappings().all()
        return [{**_case_brief(r), "queue_reason": r["queue_reason"]} for r in rows]


async def overdue(rt, principal: Principal, limit: int, offset: int) -> list[dict]:
    """Open orders with a missed deadline (by the clock) for a step not yet done."""
    now = _now(rt)
    o = orders.c
    q = select(orders).where(_missed(now))
    if not principal.has(*CENTRE_ROLES):
        q = q.where(o.department == principal.department)
    q = q.order_by(o.sign_for_by, o.order_id).limit(limit).offset(offset)
    async with rt.session_factory() as session:
        return [dict(r) for r in (await session.execute(q)).mappings()]


def _missed(now):
    o = orders.c
    return or_(
        and_(o.status == om.DISPATCHED, o.sign_for_by <= now),
        and_(o.status.in_((om.DISPATCHED, om.SIGNED)), o.on_site_by.is_not(None), o.on_site_by <= now),
        and_(o.status.in_((om.DISPATCHED, om.SIGNED, om.ON_SITE, om.IN_PROGRESS)), o.resolve_by <= now),
    )


async def operational_counts(rt) -> tuple[dict[str, int], int]:
    """Overdue open orders per department, and timers due but not fired (for the gauges)."""
    now = _now(rt)
    async with rt.session_factory() as session:
        rows = (await session.execute(
            select(orders.c.department, func.count()).where(_missed(now)).group_by(orders.c.department)
        )).all()
        due = await session.scalar(select(func.count()).select_from(timers).where(
            timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None), timers.c.due_at <= now))
    return {d: n for d, n in rows}, int(due or 0)


async def escalations(rt, limit: int, offset: int) -> list[dict]:
    async with rt.session_factory() as session:
        rows = (await session.execute(
            select(timeline, orders.c.department, orders.c.status.label("order_status"))
            .join(orders, orders.c.order_id == timeline.c.order_id)
            .where(timeline.c.kind == "order.escalated").order_by(timeline.c.id.desc()).limit(limit).offset(offset)
        )).mappings().all()
        return [dict(r) for r in rows]


async def count_cases(rt) -> dict[str, int]:
    async with rt.session_factory() as session:
        rows = (await session.execute(select(cases.c.status, func.count()).group_by(cases.c.status))).all()
        return {s: n for s, n in rows}
