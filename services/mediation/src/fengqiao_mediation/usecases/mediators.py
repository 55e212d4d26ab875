"""The mediator pool (调解人才库): add, change, read, list; the demo pool."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import structlog
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, NotFound

from ..domain.demo import demo_mediation, demo_mediators
from ..domain.policy import private
from . import views
from .commands import MediatorIn, MediatorPatch

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW

log = structlog.get_logger("fengqiao.mediation")


async def _view(uow: MediationUoW, mediator_id: str, p: Principal | None) -> dict:
    m = await uow.mediators.get(mediator_id)
    if m is None:
        raise NotFound("mediator", "调解员")
    leaves = await uow.mediators.leaves(mediator_id)
    load = (await uow.mediations.loads([mediator_id])).get(mediator_id, 0)
    return views.mediator(m, leaves, load, private(p, mediator_id))


async def create_mediator(uow: MediationUoW, principal: Principal | None, cmd: MediatorIn) -> dict:
    uow.cfg.check_codes(cmd.categories, cmd.dialects)
    mid = cmd.id or f"M-{uuid.uuid4().hex[:8]}"
    now = uow.now()
    values = {**cmd.model_dump(mode="json"), "id": mid, "created_at": now, "updated_at": now}
    async with uow:
        if not await uow.mediators.insert_if_absent(values):
            raise Conflict("调解员编号已存在", f"mediator {mid} already exists", code="mediator_exists")
        await uow.commit()
    async with uow:
        return await _view(uow, mid, None)


async def get_mediator(uow: MediationUoW, principal: Principal | None, mediator_id: str) -> dict:
    async with uow:
        return await _view(uow, mediator_id, principal)


async def list_mediators(uow: MediationUoW, principal: Principal, *, category: str | None = None,
                         dialect: str | None = None, kind: str | None = None, active: bool | None = None
                         ) -> list[dict]:
    async with uow:
        rows = await uow.mediators.list(category=category, dialect=dialect, kind=kind, active=active)
        loads = await uow.mediations.loads([r["id"] for r in rows])
    return [views.mediator(r, None, loads.get(r["id"], 0), private(principal, r["id"])) for r in rows]


async def patch_mediator(uow: MediationUoW, principal: Principal | None, mediator_id: str,
                         cmd: MediatorPatch) -> dict:
    uow.cfg.check_codes(cmd.categories, cmd.dialects)
    values = cmd.model_dump(mode="json", exclude_unset=True)
    async with uow:
        if not await uow.mediators.update(mediator_id, values, uow.now()):
            raise NotFound("mediator", "调解员")
        await uow.commit()
    async with uow:
        return await _view(uow, mediator_id, None)


async def seed_demo(uow: MediationUoW, pool_mix: dict[str, int]) -> int:
    """Insert the demo mediators if missing (idempotent); returns how many were new."""
    rows = demo_mediators(pool_mix, uow.cfg.category_codes, list(uow.cfg.dialects))
    async with uow:
        n = await uow.mediators.insert_many_if_absent(rows)
        await uow.commit()
    log.info("demo mediators seeded", inserted=n, total=len(rows))
    return n


async def seed_demo_mediation(uow: MediationUoW) -> bool:
    """The demo mediation linked to the demo logins (party P001, mediator M001), with one session awaiting
    signatures; idempotent (False when it exists or M001 is not in the pool)."""
    async with uow:
        mediator = await uow.mediators.get("M001")
        if mediator is None:
            return False
        med, parties, session = demo_mediation(mediator, uow.now())
        if not await uow.mediations.insert_if_absent(med):
            return False
        await uow.mediations.add_parties(parties)
        await uow.sessions.insert(session)
        await uow.commit()
    log.info("demo mediation seeded", mediation_id=med["id"], parties=[p["id"] for p in parties])
    return True
