"""Mediation failed (调解不成): hand the matter on with the recorded outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict
from fengqiao_events.payloads.mediation import MediationFailed

from ..domain import rules
from ..domain.policy import authorize_fail
from . import common
from .commands import FailureIn
from .mediations import mediation_view

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def fail(uow: MediationUoW, principal: Principal, mediation_id: str, cmd: FailureIn) -> dict:
    async with uow:
        med = await common.mediation(uow, mediation_id, lock=True)
        authorize_fail(principal, med)
        if med["status"] not in rules.CAN_FAIL:
            raise Conflict("当前状态不能登记调解不成", f"mediation is {med['status']}", code="cannot_fail",
                           status=med["status"])
        now = uow.now()
        await uow.bookings.cancel_future(mediation_id, now, "mediation failed")
        await uow.mediations.update(mediation_id, now, status=rules.FAILED, handed_to=cmd.handed_to,
                                    outcome=cmd.outcome)
        uow.emit(MediationFailed(**common.ref(med), at=now, by=common.actor(principal), handed_to=cmd.handed_to,
                                 outcome=cmd.outcome))
        await uow.commit()
    return await mediation_view(uow, principal, mediation_id)
