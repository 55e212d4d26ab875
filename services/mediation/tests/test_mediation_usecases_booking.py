"""Booking use cases on the in-memory fakes: book (exact slot, window + preferred mediator, conflicts, the
lost race), reschedule, cancel, proposals, availability, the pool."""

from datetime import timedelta

import pytest
from fengqiao_common.errors import Conflict, Forbidden, Invalid, NotFound
from fengqiao_events.payloads.mediation import MediationBooked, MediationCancelled, MediationRescheduled
from fengqiao_mediation.domain import rules
from fengqiao_mediation.usecases import availability, bookings, mediators, proposals
from fengqiao_mediation.usecases.commands import (
    BookingIn,
    LeaveIn,
    MediatorPatch,
    ProposalRequest,
    RescheduleIn,
)
from mediation_fakes import FakeMediationUoW
from mediation_world import (
    ADMIN,
    DISPATCHER,
    EXTERNAL,
    PARTIES,
    add_mediator,
    book,
    local,
    mediator_p,
    party_p,
)


async def test_book_an_exact_slot_opens_the_mediation_and_emits_booked():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    out = await book(uow)
    med = uow.db.mediations[out["mediation"]["id"]]
    assert out["mediation"] == {"id": med["id"], "case_id": None, "category": "labour", "status": rules.BOOKED,
                                "created": True}
    assert med["status"] == rules.BOOKED and med["mediator_id"] == "M1" and med["source"] == "walk_in"
    assert [p["name"] for p in out["parties"]] == ["冯甲", "谭乙"]
    b = uow.db.bookings[out["booking"]["id"]]
    assert b["status"] == "active" and b["starts_at"] == local(uow, 2, 10) and b["ends_at"] - b["starts_at"] == \
        timedelta(hours=1)
    [ev] = uow.events_of(MediationBooked)
    assert (ev.booking_id, ev.mediator_id, ev.mediation_id, ev.starts_at) == (b["id"], "M1", med["id"], b["starts_at"])
    assert (await mediators.get_mediator(uow, ADMIN, "M1"))["load"] == 1


async def test_a_taken_slot_is_a_conflict_with_alternatives_and_leaves_nothing_behind():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    await add_mediator(uow, "M2")
    await book(uow)
    before = (len(uow.db.mediations), len(uow.committed_events))
    with pytest.raises(Conflict) as exc:
        await book(uow)
    assert exc.value.code == "slot_taken"
    assert exc.value.extra["reasons"] == [{"code": "taken", "zh": "该时段已被预约或调解员请假",
                                           "en": "slot already booked or on leave"}]  # seen before the insert
    alts = exc.value.extra["alternatives"]
    assert alts and alts[0]["mediator_id"] == "M1" and alts[0]["starts_at"] != local(uow, 2, 10).isoformat()
    assert any(a["mediator_id"] == "M2" for a in alts)
    assert (len(uow.db.mediations), len(uow.committed_events)) == before  # rolled back


async def test_losing_the_race_at_the_database_is_slot_taken_too():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    uow.bookings.race = True  # the exclusion constraint refuses the insert
    with pytest.raises(Conflict) as exc:
        await book(uow)
    assert exc.value.code == "slot_taken" and exc.value.extra["reasons"][0]["code"] == "taken"
    assert uow.db.bookings == {} and uow.committed_events == []


async def test_outside_hours_conflict_of_interest_and_capacity_are_reasons():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1", relations=[{"name": "某工厂"}], capacity=1)
    with pytest.raises(Conflict) as exc:
        await book(uow, hour=22)
    assert exc.value.code == "slot_unavailable"
    codes = {r["code"] for r in exc.value.extra["reasons"]}
    assert codes == {"not_available", "conflict_of_interest"}
    await add_mediator(uow, "M2", capacity=1)
    await book(uow, "M2")
    with pytest.raises(Conflict) as exc:
        await book(uow, "M2", hour=14)
    assert [r["code"] for r in exc.value.extra["reasons"]] == ["full"]


async def test_book_in_a_window_prefers_the_named_mediator():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    await add_mediator(uow, "M2", dialects=["粤语"])
    window = {"from": local(uow, 1, 8).isoformat(), "to": local(uow, 3, 20).isoformat()}
    out = await bookings.book(uow, DISPATCHER, BookingIn.model_validate({
        "category": "labour", "parties": PARTIES, "window": window, "preference": {"mediator_id": "M2"}}))
    assert out["booking"]["mediator_id"] == "M2" and out["booking"]["starts_at"] == local(uow, 1, 8)
    assert uow.events_of(MediationBooked)[0].mediator_id == "M2"


async def test_no_mediator_free_in_the_window():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1", categories=["family"])
    window = {"from": local(uow, 1, 8).isoformat(), "to": local(uow, 2, 20).isoformat()}
    with pytest.raises(Conflict) as exc:
        await bookings.book(uow, DISPATCHER, BookingIn.model_validate(
            {"category": "labour", "parties": PARTIES, "window": window}))
    assert exc.value.code == "no_mediator_available" and exc.value.extra["excluded"] == []


async def test_only_the_centre_or_an_external_system_opens_a_mediation():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    with pytest.raises(Forbidden):
        await book(uow, principal=mediator_p("M1"))
    out = await book(uow, principal=EXTERNAL)
    assert uow.db.mediations[out["mediation"]["id"]]["external_system"] == "court-portal"
    with pytest.raises(Invalid) as exc:
        await book(uow, hour=12, category="unknown")
    assert exc.value.fields[0]["code"] == "unknown_category"


async def test_reschedule_moves_the_booking_and_emits_rescheduled():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    out = await book(uow)
    old = out["booking"]["id"]
    nb = await bookings.reschedule(uow, mediator_p("M1"), old, RescheduleIn(starts_at=local(uow, 3, 15)))
    assert uow.db.bookings[old]["status"] == "rescheduled"
    assert nb["status"] == "active" and nb["replaces"] == old and nb["starts_at"] == local(uow, 3, 15)
    [ev] = uow.events_of(MediationRescheduled)
    assert ev.booking_id == nb["id"] and ev.starts_at == local(uow, 3, 15)
    with pytest.raises(Conflict) as exc:
        await bookings.reschedule(uow, DISPATCHER, old, RescheduleIn(starts_at=local(uow, 4, 15)))
    assert exc.value.code == "booking_not_active"
    with pytest.raises(Forbidden):
        await bookings.reschedule(uow, mediator_p("M9"), nb["id"], RescheduleIn(starts_at=local(uow, 4, 15)))


async def test_reschedule_onto_another_booking_of_the_mediator_is_slot_taken():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    first = await book(uow)
    await book(uow, hour=14)
    with pytest.raises(Conflict) as exc:
        await bookings.reschedule(uow, DISPATCHER, first["booking"]["id"], RescheduleIn(starts_at=local(uow, 2, 14)))
    assert exc.value.code == "slot_taken"


async def test_cancel_reopens_a_mediation_with_nothing_else_booked():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    out = await book(uow)
    b = await bookings.cancel(uow, DISPATCHER, out["booking"]["id"], "当事人改期")
    assert b["status"] == "cancelled" and b["cancel_reason"] == "当事人改期"
    med = uow.db.mediations[out["mediation"]["id"]]
    assert med["status"] == rules.OPEN and med["mediator_id"] is None
    [ev] = uow.events_of(MediationCancelled)
    assert ev.booking_id == b["id"] and ev.reason == "当事人改期"
    with pytest.raises(Conflict):
        await bookings.cancel(uow, DISPATCHER, out["booking"]["id"], None)
    with pytest.raises(NotFound):
        await bookings.cancel(uow, DISPATCHER, "nope", None)


async def test_get_booking_is_for_those_who_may_see_the_mediation():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    out = await book(uow)
    bid = out["booking"]["id"]
    assert (await bookings.get_booking(uow, party_p(out["parties"][0]["id"]), bid))["id"] == bid
    with pytest.raises(Forbidden):
        await bookings.get_booking(uow, party_p("someone-else"), bid)


async def test_proposals_rank_with_reasons_and_list_the_excluded():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1", dialects=["普通话"])
    await add_mediator(uow, "M2", dialects=["粤语"])
    await add_mediator(uow, "M3", relations=[{"name": "冯甲"}])
    out = await proposals.propose(uow, DISPATCHER, ProposalRequest.model_validate({
        "category": "labour", "party_names": ["冯甲"], "preference": {"dialect": "粤语"},
        "window": {"from": local(uow, 1, 8).isoformat(), "to": local(uow, 2, 20).isoformat()}}))
    assert [p["mediator_id"] for p in out["proposals"]] == ["M2", "M1"]
    assert out["proposals"][0]["slots"][0]["starts_at"] == local(uow, 1, 8)
    assert out["excluded"][0]["mediator_id"] == "M3"
    assert out["excluded"][0]["reasons"][0]["code"] == "conflict_of_interest"
    with pytest.raises(Invalid):
        await proposals.propose(uow, DISPATCHER, ProposalRequest.model_validate({
            "window": {"from": local(uow, 1, 8).isoformat(), "to": local(uow, 40, 20).isoformat()},
            "category": "labour"}))


async def test_availability_leave_slots_and_the_calendar():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    with pytest.raises(Forbidden):
        await availability.set_availability(uow, mediator_p("M2"), "M1", [])
    m = await availability.set_availability(uow, mediator_p("M1"), "M1",
                                            [{"weekday": 1, "start": "09:00", "end": "11:00"}])
    assert m["weekly"] == [{"weekday": 1, "start": "09:00", "end": "11:00"}]
    tue = local(uow, 1, 0)
    slots = await availability.mediator_slots(uow, None, "M1", tue, tue + timedelta(days=1))
    assert [s["starts_at"] for s in slots] == [local(uow, 1, 9), local(uow, 1, 10)]
    await availability.add_leave(uow, mediator_p("M1"), "M1", LeaveIn(starts_at=local(uow, 1, 9),
                                                                         ends_at=local(uow, 1, 10), reason="病假"))
    slots = await availability.mediator_slots(uow, None, "M1", tue, tue + timedelta(days=1))
    assert [s["starts_at"] for s in slots] == [local(uow, 1, 10)]
    with pytest.raises(Conflict) as exc:  # on leave
        await book(uow, days=1, hour=9)
    assert exc.value.code == "slot_taken"
    await book(uow, days=1, hour=10)
    cal = await availability.mediator_bookings(uow, mediator_p("M1"), "M1", tue, tue + timedelta(days=1))
    assert [b["starts_at"] for b in cal] == [local(uow, 1, 10)]
    with pytest.raises(Forbidden):
        await availability.mediator_bookings(uow, mediator_p("M2"), "M1", tue, tue + timedelta(days=1))


async def test_the_pool_create_patch_list_and_private_relations():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1", relations=[{"name": "某工厂"}])
    with pytest.raises(Conflict) as exc:
        await add_mediator(uow, "M1")
    assert exc.value.code == "mediator_exists"
    m = await mediators.patch_mediator(uow, ADMIN, "M1", MediatorPatch(capacity=7, active=False))
    assert (m["capacity"], m["active"]) == (7, False) and uow.db.mediators["M1"]["updated_at"] == uow.now()
    listed = await mediators.list_mediators(uow, DISPATCHER, active=False)
    assert [x["id"] for x in listed] == ["M1"] and "relations" not in listed[0]
    assert (await mediators.list_mediators(uow, mediator_p("M1")))[0]["relations"] == [{"name": "某工厂",
                                                                                        "relation": None}]
    with pytest.raises(NotFound):
        await mediators.patch_mediator(uow, ADMIN, "M404", MediatorPatch(capacity=2))
