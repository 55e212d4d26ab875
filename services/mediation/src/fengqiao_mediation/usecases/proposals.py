"""The matcher over the pool: candidates with their free slots, ranked; proposals for a request."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import invalid

from ..domain import rules
from ..domain.matcher import Candidate, Proposal, Request, rank
from ..domain.policy import authorize_view
from ..domain.schedule import Interval, free_slots, weekly_from_json
from ..domain.slots import alternatives, candidate, check_window
from . import common, views
from .commands import ProposalRequest

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def candidates(uow: MediationUoW, category: str, start: datetime, end: datetime,
                     extra_id: str | None = None, slots_per: int = 3) -> list[Candidate]:
    cfg = uow.cfg
    rows = await uow.mediators.candidates(category, extra_id)
    ids = [r["id"] for r in rows]
    loads = await uow.mediations.loads(ids)
    busy = await uow.bookings.busy(ids, start, end)
    now = uow.now()
    return [candidate(r, loads.get(r["id"], 0), tuple(free_slots(
        weekly_from_json(r["weekly"]), busy[r["id"]], Interval(start, end), slot=cfg.slot, tz=cfg.tz, now=now,
        limit=slots_per))) for r in rows]


async def ranked(uow: MediationUoW, req: Request, start: datetime, end: datetime, slots_per: int = 3):
    cands = await candidates(uow, req.category, start, end, req.mediator_id, slots_per)
    return rank(cands, req, window_start=max(start, uow.now()), window_end=end)


async def alternatives_for(uow: MediationUoW, req: Request, start: datetime, end: datetime,
                           limit: int = 5) -> list[dict]:
    proposals: list[Proposal]
    proposals, _ = await ranked(uow, req, start, end, slots_per=limit)
    return alternatives(proposals, req.mediator_id, limit)


async def propose(uow: MediationUoW, principal: Principal, cmd: ProposalRequest) -> dict:
    cfg = uow.cfg
    check_window(cmd.window.from_, cmd.window.to, cfg.max_window_days)
    async with uow:
        category, names, holder = cmd.category, list(cmd.party_names), None
        if cmd.mediation_id:
            med = await common.mediation(uow, cmd.mediation_id)
            parties = await uow.mediations.parties(med["id"])
            authorize_view(principal, med, [x["id"] for x in parties])
            category = med["category"]
            names += common.party_names(parties)
            holder = med["mediator_id"] if med["status"] in rules.ACTIVE else None
        if not category:
            raise invalid("category", "必填项缺失", "category or mediation_id is required", "missing",
                          loc=["category"])
        pref = cmd.preference
        cfg.check_codes([category], [pref.dialect] if pref.dialect else None)
        req = Request(category=category, mediator_id=pref.mediator_id, dialect=pref.dialect, gender=pref.gender,
                      mode=pref.mode, party_names=tuple(names), include_mediation_load=holder)
        proposals, excluded = await ranked(uow, req, cmd.window.from_, cmd.window.to)
    return {
        "category": category,
        "proposals": [views.proposal(x) for x in proposals[: cmd.limit]],
        "excluded": [{"mediator_id": e.mediator_id, "name": e.name, "reasons": e.reasons} for e in excluded],
    }
