"""A mediator's weekly hours, leave, free slots and calendar."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_common.ids import new_id

from ..domain.policy import may_manage_mediator, may_see_calendar
from ..domain.schedule import Interval, free_slots, weekly_from_json
from ..domain.slots import check_window
from . import views
from .commands import LeaveIn
from .mediators import get_mediator

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def set_availability(uow: MediationUoW, principal: Principal, mediator_id: str, weekly: list[dict]) -> dict:
    may_manage_mediator(principal, mediator_id)
    async with uow:
        if not await uow.mediators.update(mediator_id, {"weekly": weekly}, uow.now()):
            raise NotFound("mediator", "调解员")
        await uow.commit()
    return await get_mediator(uow, None, mediator_id)


async def add_leave(uow: MediationUoW, principal: Principal, mediator_id: str, cmd: LeaveIn) -> dict:
    may_manage_mediator(principal, mediator_id)
    leave = {"id": new_id(), "mediator_id": mediator_id, "starts_at": cmd.starts_at, "ends_at": cmd.ends_at,
             "reason": cmd.reason}
    async with uow:
        if await uow.mediators.get(mediator_id) is None:
            raise NotFound("mediator", "调解员")
        await uow.mediators.add_leave(leave)
        await uow.commit()
    return leave


async def mediator_slots(uow: MediationUoW, principal: Principal | None, mediator_id: str, start: datetime,
                         end: datetime) -> list[dict]:
    cfg = uow.cfg
    check_window(start, end, cfg.max_window_days)
    async with uow:
        m = await uow.mediators.get(mediator_id)
        if m is None:
            raise NotFound("mediator", "调解员")
        busy = await uow.bookings.busy([mediator_id], start, end)
    slots = free_slots(weekly_from_json(m["weekly"]), busy.get(mediator_id, []), Interval(start, end),
                       slot=cfg.slot, tz=cfg.tz, now=uow.now())
    return [{"starts_at": s.start, "ends_at": s.end} for s in slots]


async def mediator_bookings(uow: MediationUoW, principal: Principal, mediator_id: str, start: datetime,
                            end: datetime) -> list[dict]:
    """A mediator's calendar: its active bookings in the window (centre staff, admins, the mediator)."""
    may_see_calendar(principal, mediator_id)
    check_window(start, end, uow.cfg.max_window_days)
    async with uow:
        rows = await uow.bookings.active_of_mediator(mediator_id, start, end)
    return [views.booking(r) for r in rows]
