"""Loading helpers shared by the use cases (NotFound when a row is missing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_events.payloads.common import Actor

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW



def actor(p: Principal) -> Actor:
    return Actor(**p.actor())


def ref(med: dict) -> dict:
    return {"mediation_id": med["id"], "case_id": med["case_id"], "category": med["category"]}


async def mediation(uow: MediationUoW, mediation_id: str, *, lock: bool = False) -> dict:
    m = await uow.mediations.get(mediation_id, lock=lock)
    if m is None:
        raise NotFound("mediation", "调解案件")
    return m


async def party_ids(uow: MediationUoW, mediation_id: str) -> list[str]:
    return [p["id"] for p in await uow.mediations.parties(mediation_id)]


def party_names(parties: list[dict]) -> list[str]:
    out = []
    for p in parties:
        out.append(p["name"])
        if p["organisation"]:
            out.append(p["organisation"])
    return out


async def booking(uow: MediationUoW, booking_id: str) -> dict:
    b = await uow.bookings.get(booking_id)
    if b is None:
        raise NotFound("booking", "预约")
    return b


async def record(uow: MediationUoW, session_id: str, *, lock: bool = False) -> dict:
    s = await uow.sessions.get(session_id, lock=lock)
    if s is None:
        raise NotFound("session", "调解记录")
    return s


async def application(uow: MediationUoW, application_id: str, *, lock: bool = False) -> dict:
    a = await uow.applications.get(application_id, lock=lock)
    if a is None:
        raise NotFound("court application", "司法确认申请")
    return a
