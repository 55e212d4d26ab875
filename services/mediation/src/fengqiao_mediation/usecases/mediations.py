"""Mediations: lists (each principal its own) and the progress view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal

from ..domain import rules
from ..domain.policy import authorize_view, list_scope, may_see_phone
from . import common, views

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def list_mediations(uow: MediationUoW, principal: Principal, *, case_id: str | None = None,
                          status: str | None = None, limit: int = 100) -> list[dict]:
    """Centre staff see all; a mediator its own; a party only its own; an external system what it booked."""
    scope = list_scope(principal)
    async with uow:
        rows = await uow.mediations.list(scope, case_id=case_id, status=status, limit=limit)
    return [views.mediation_brief(r) for r in rows]


async def mediation_view(uow: MediationUoW, principal: Principal, mediation_id: str) -> dict:
    """The progress of one mediation, as the parties, the mediator and the centre see it."""
    async with uow:
        med = await common.mediation(uow, mediation_id)
        parties = await uow.mediations.parties(mediation_id)
        authorize_view(principal, med, [x["id"] for x in parties])
        bookings = await uow.bookings.for_mediation(mediation_id)
        sessions = await uow.sessions.for_mediation(mediation_id)
        sigs = await uow.signatures.for_sessions([s["id"] for s in sessions])
        agr = await uow.agreements.brief_for_mediation(mediation_id)
        apps = await uow.applications.for_mediation(mediation_id)
        mediator = None
        if med["mediator_id"]:
            name = await uow.mediators.name(med["mediator_id"])
            mediator = {"id": med["mediator_id"], "name": name} if name is not None else None
    required = rules.required_signers(med["mediator_id"] or "?", [x["id"] for x in parties])
    return {
        **views.mediation_brief(med),
        "category_name": uow.cfg.category_name(med["category"]),
        "summary": med["summary"],
        "mediator": mediator,
        "parties": [views.party(x, may_see_phone(principal, x["id"])) for x in parties],
        "bookings": [views.booking(b) for b in bookings],
        "sessions": [views.session(s, sigs.get(s["id"], []), required, mediator=mediator and mediator["name"])
                     for s in sessions],
        "agreement": views.agreement(agr) if agr else None,
        "court_applications": [views.application(a) for a in apps],
        "handed_to": med["handed_to"],
        "outcome": med["outcome"],
    }
