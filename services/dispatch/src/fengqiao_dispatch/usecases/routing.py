"""Cases arriving and being routed: by the rules (grid.event.reported, a reopened case) or by hand."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope
from fengqiao_events.payloads.case import GridEventReported
from fengqiao_events.payloads.common import SYSTEM

from ..adapters.uow import DispatchUoW
from ..domain import cases as cm
from ..domain.rules import choose
from . import steps
from .commands import ManualDispatch


async def receive_case(uow: DispatchUoW, env: Envelope, p: GridEventReported, *, jurisdiction: Jurisdiction) -> None:
    """Consumer of grid.event.reported: keep a copy of the case and route it (a re-sent report: nothing)."""
    async with uow:
        now = uow.now()
        case = await uow.cases.add_new(dict(
            case_id=p.case_id, case_no=p.case_no, category=p.category, grade=p.grade, summary=p.summary,
            description=p.description, grid=p.grid, community=p.community,
            location=p.location.model_dump(mode="json"), people_involved=p.people_involved,
            keywords=p.keywords, status=cm.NEW, clock_started_at=now, reported_at=p.reported_at,
            created_at=now, updated_at=now,
        ))
        if case is None:
            return
        # inserted by this transaction: nobody else can see or lock it yet
        await uow.timeline.add(case_id=p.case_id, kind="case.received", at=now,
                               actor=p.reporter.model_dump(mode="json") if p.reporter else None,
                               detail={"category": p.category, "grade": p.grade, "channel": p.channel})
        await route_by_rules(uow, case, causation=env, jurisdiction=jurisdiction)
        await uow.commit()


async def route_by_rules(uow: DispatchUoW, case: dict, *, causation: Envelope | None,
                         jurisdiction: Jurisdiction) -> list[dict]:
    """Orders by the best matching rule, or the centre's queue when none matches (inside ``uow``)."""
    rule = choose(await uow.rules.current(), cm.facts(case))
    if rule is None:
        await steps.queue_case(uow, case, "no_rule_matched", causation=causation)
        return []
    return await steps.create_orders(
        uow, case, lead=rule.body.lead, assist=rule.body.assist, on_site_required=rule.body.on_site_required,
        rule=rule, actor=SYSTEM, causation=causation, jurisdiction=jurisdiction,
    )


async def manual_dispatch(uow: DispatchUoW, principal: Principal, cmd: ManualDispatch, *,
                          jurisdiction: Jurisdiction) -> list[dict]:
    """The centre picks departments for a queued case (no rule matched, or an order was returned)."""
    cm.check_departments(cmd.lead, cmd.assist, jurisdiction)
    async with uow:
        case = await uow.cases.get(cmd.case_id, lock=True)
        if case is None:
            raise NotFound("case", "案件")
        existing = await uow.orders.of_case(cmd.case_id)
        cm.check_manual_dispatch(case, existing, cmd.lead, cmd.assist)
        created = await steps.create_orders(
            uow, case, lead=cmd.lead, assist=list(cmd.assist), on_site_required=cmd.on_site_required, rule=None,
            actor=steps.actor_of(principal), jurisdiction=jurisdiction,
            reroute_of=cm.reroute_links(existing, cmd.lead, cmd.assist))
        await uow.commit()
    return created
