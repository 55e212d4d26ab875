"""Booking (预约调解): book an exact slot or the best in a window, reschedule, cancel, read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import EXTERNAL_SYSTEM, Principal
from fengqiao_common.errors import Conflict, Invalid, field_error, invalid
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.mediation import MediationBooked, MediationCancelled, MediationRescheduled

from ..domain import rules
from ..domain.matcher import Request
from ..domain.policy import authorize_manage, authorize_new_booking, authorize_view
from ..domain.schedule import Interval
from ..domain.slots import (
    TAKEN,
    SlotTaken,
    alternatives_window,
    check_window,
    no_mediator,
    slot_conflict,
    slot_problems,
)
from . import common, views
from .commands import BookingIn, RescheduleIn
from .proposals import alternatives_for, ranked

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def _lock_mediator(uow: MediationUoW, mediator_id: str) -> dict:
    m = await uow.mediators.get(mediator_id, lock=True)
    if m is None:
        raise Invalid("调解员不存在", "unknown mediator", fields=[
            field_error("mediator_id", "unknown_mediator", "调解员不存在", f"no mediator {mediator_id}")])
    return m


async def _problems(uow: MediationUoW, m: dict, req: Request, slot: Interval, moving: dict | None = None
                    ) -> list[dict]:
    """Why ``m`` cannot take ``slot`` (call with the mediator locked); ``moving``: the booking being moved."""
    load = (await uow.mediations.loads([m["id"]])).get(m["id"], 0)
    busy = (await uow.bookings.busy([m["id"]], slot.start, slot.end))[m["id"]]
    if moving is not None:
        busy = [b for b in busy if not (b.start == moving["starts_at"] and b.end == moving["ends_at"])]
    return slot_problems(m, req, slot, load=load, busy=busy, now=uow.now(), tz=uow.cfg.tz)


async def _refuse(uow: MediationUoW, req: Request, slot: Interval, why: list[dict], window) -> Conflict:
    start, end = alternatives_window(slot, window, uow.now())
    return slot_conflict(why, await alternatives_for(uow, req, start, end))


async def _new_mediation(uow: MediationUoW, p: Principal, cmd: BookingIn) -> tuple[dict, list[dict]]:
    authorize_new_booking(p)
    fields = []
    if not cmd.category:
        fields.append(field_error("category", "missing", "必填项缺失", "category is required"))
    if not cmd.parties:
        fields.append(field_error("parties", "missing", "请填写双方当事人", "parties are required"))
    if fields:
        raise Invalid("请求参数有误", "request validation failed", fields=fields)
    ext = p.external_system if p.has(EXTERNAL_SYSTEM) else None
    now = uow.now()
    med = {"id": new_id(), "case_id": None, "case_no": None, "referral_id": None,
           "source": "external_system" if ext else "walk_in", "external_system": ext,
           "category": cmd.category, "summary": cmd.summary, "status": rules.OPEN, "mediator_id": None}
    uow.cfg.check_codes([cmd.category], None)
    await uow.mediations.insert({**med, "created_at": now, "updated_at": now})
    return med, await _add_parties(uow, med["id"], cmd)


async def _add_parties(uow: MediationUoW, mediation_id: str, cmd: BookingIn) -> list[dict]:
    rows = [{"id": new_id(), "mediation_id": mediation_id, "side": x.side, "name": x.name.strip(), "phone": x.phone,
             "organisation": x.organisation, "position": i} for i, x in enumerate(cmd.parties)]
    await uow.mediations.add_parties(rows)
    return rows


async def book(uow: MediationUoW, principal: Principal, cmd: BookingIn) -> dict:
    cfg = uow.cfg
    if cmd.window:
        check_window(cmd.window.from_, cmd.window.to, cfg.max_window_days)
    pref = cmd.preference
    async with uow:
        if cmd.mediation_id:
            med = await common.mediation(uow, cmd.mediation_id, lock=True)
            authorize_manage(principal, med)
            if med["status"] not in rules.BOOKABLE:
                raise Conflict("该调解案件当前不能预约", f"mediation is {med['status']}", code="not_bookable",
                               status=med["status"])
            parties = await uow.mediations.parties(med["id"])
            if not parties:
                if not cmd.parties:
                    raise invalid("parties", "请填写双方当事人", "parties are required for the first booking",
                                  "missing", loc=["parties"])
                parties = await _add_parties(uow, med["id"], cmd)
            created = False
        else:
            med, parties = await _new_mediation(uow, principal, cmd)
            created = True
        cfg.check_codes(None, [pref.dialect] if pref.dialect else None)
        holder = med["mediator_id"] if med["status"] in rules.ACTIVE else None
        mediator_id = cmd.mediator_id or pref.mediator_id
        req = Request(category=med["category"], mediator_id=mediator_id, dialect=pref.dialect, gender=pref.gender,
                      mode=pref.mode, party_names=tuple(common.party_names(parties)), include_mediation_load=holder)
        window = (cmd.window.from_, cmd.window.to) if cmd.window else None
        if cmd.starts_at is not None:
            slot = Interval(cmd.starts_at, cmd.starts_at + cfg.slot)
        else:
            proposals, excluded = await ranked(uow, req, *window, slots_per=1)
            if not proposals:
                raise no_mediator(excluded)
            mediator_id, slot = proposals[0].mediator_id, proposals[0].slots[0]
        m = await _lock_mediator(uow, mediator_id)
        why = await _problems(uow, m, req, slot)
        if why:
            raise await _refuse(uow, req, slot, why, window)
        address = pref.address if pref.mode == "home" else None
        try:
            b = await uow.bookings.insert(dict(
                id=new_id(), mediation_id=med["id"], mediator_id=mediator_id, starts_at=slot.start, ends_at=slot.end,
                mode=pref.mode, address=address, status="active", created_at=uow.now()))
        except SlotTaken:
            raise await _refuse(uow, req, slot, [TAKEN], window) from None
        new_status = rules.BOOKED if med["status"] == rules.OPEN else med["status"]
        await uow.mediations.update(med["id"], uow.now(), mediator_id=mediator_id, status=new_status)
        uow.emit(MediationBooked(**common.ref(med), at=uow.now(), by=common.actor(principal), booking_id=b["id"],
                                 mediator_id=mediator_id, starts_at=slot.start, ends_at=slot.end, mode=pref.mode))
        await uow.commit()
    return {
        "booking": {"id": b["id"], "mediation_id": med["id"], "mediator_id": mediator_id, "mediator_name": m["name"],
                    "starts_at": slot.start, "ends_at": slot.end, "mode": pref.mode, "address": address,
                    "status": "active"},
        "mediation": {"id": med["id"], "case_id": med["case_id"], "category": med["category"],
                      "status": new_status, "created": created},
        "parties": [{"id": x["id"], "side": x["side"], "name": x["name"]} for x in parties],
    }


async def get_booking(uow: MediationUoW, principal: Principal, booking_id: str) -> dict:
    async with uow:
        b = await common.booking(uow, booking_id)
        med = await common.mediation(uow, b["mediation_id"])
        authorize_view(principal, med, await common.party_ids(uow, med["id"]))
    return views.booking(b)


async def _active_booking(uow: MediationUoW, principal: Principal, booking_id: str) -> tuple[dict, dict]:
    """The booking and its mediation (locked), for a manager; 409 unless it is active."""
    b = await common.booking(uow, booking_id)
    med = await common.mediation(uow, b["mediation_id"], lock=True)
    authorize_manage(principal, med)
    b = await common.booking(uow, booking_id)  # again, under the mediation's lock
    if b["status"] != "active":
        raise Conflict("该预约已取消或已改期", f"booking is {b['status']}", code="booking_not_active", status=b["status"])
    return b, med


async def reschedule(uow: MediationUoW, principal: Principal, booking_id: str, cmd: RescheduleIn) -> dict:
    async with uow:
        b, med = await _active_booking(uow, principal, booking_id)
        mediator_id = cmd.mediator_id or b["mediator_id"]
        names = common.party_names(await uow.mediations.parties(med["id"]))
        req = Request(category=med["category"], mediator_id=mediator_id, mode=b["mode"], party_names=tuple(names),
                      include_mediation_load=med["mediator_id"] if med["status"] in rules.ACTIVE else None)
        slot = Interval(cmd.starts_at, cmd.starts_at + uow.cfg.slot)
        m = await _lock_mediator(uow, mediator_id)
        why = await _problems(uow, m, req, slot, moving=b)
        if why:
            raise await _refuse(uow, req, slot, why, None)
        await uow.bookings.update(booking_id, status="rescheduled")
        try:
            nb = await uow.bookings.insert(dict(
                id=new_id(), mediation_id=med["id"], mediator_id=mediator_id, starts_at=slot.start, ends_at=slot.end,
                mode=b["mode"], address=b["address"], status="active", replaces=booking_id, created_at=uow.now()))
        except SlotTaken:
            raise await _refuse(uow, req, slot, [TAKEN], None) from None
        if mediator_id != med["mediator_id"]:
            await uow.mediations.update(med["id"], uow.now(), mediator_id=mediator_id)
        uow.emit(MediationRescheduled(**common.ref(med), at=uow.now(), by=common.actor(principal),
                                      booking_id=nb["id"], mediator_id=mediator_id, starts_at=slot.start,
                                      ends_at=slot.end))
        await uow.commit()
    return views.booking(nb)


async def cancel(uow: MediationUoW, principal: Principal, booking_id: str, reason: str | None) -> dict:
    async with uow:
        b, med = await _active_booking(uow, principal, booking_id)
        await uow.bookings.update(booking_id, status="cancelled", cancel_reason=reason)
        others = await uow.bookings.count_active(med["id"])
        recorded = await uow.sessions.count(med["id"])
        if med["status"] == rules.BOOKED and not others and not recorded:
            # nothing else booked: the mediation is open again and frees the mediator's capacity
            await uow.mediations.update(med["id"], uow.now(), status=rules.OPEN, mediator_id=None)
        uow.emit(MediationCancelled(**common.ref(med), at=uow.now(), by=common.actor(principal),
                                    booking_id=booking_id, reason=reason))
        b = await common.booking(uow, booking_id)
        await uow.commit()
    return views.booking(b)
