"""Use cases of new cases on in-memory fakes: report, petition, demand, idempotency, duplicates."""

from __future__ import annotations

import pytest
from fengqiao_common.errors import Conflict, Forbidden, Invalid
from fengqiao_events.payloads.case import GridEventReported
from fengqiao_intake.domain.idempotency import model_hash
from fengqiao_intake.schemas import PartyIn, PetitionIn
from fengqiao_intake.usecases import cases as uc
from intake_usecase_kit import (
    DISPATCHER,
    LAT,
    OTHER_WORKER,
    SYSTEM,
    WORKER,
    demand_body,
    grid_body,
    new_case,
    world,
)


async def test_report_grid_event_stores_the_case_its_timeline_and_one_event():
    uow, c, _ = world()
    result = await uc.report_grid_event(uow, WORKER, grid_body(), ctx=c)
    case = result.item
    assert result.created
    assert uow.db.cases[case["id"]]["status"] == "reported"
    assert case["case_no"].endswith("-0001") and case["grid"] == "WH-01" and case["community"]
    assert case["reported_at"] == uow.now()
    assert [t["kind"] for t in uow.db.timeline] == ["case.reported"]
    [req] = uow.db.requesters
    assert req["requester_ref"].startswith("req-") and req["channel"] == "grid_app"
    [ev] = uow.events_of(GridEventReported)
    assert ev.case_id == case["id"] and ev.case_no == case["case_no"] and ev.duplicate_of is None
    assert ev.requester_ref == req["requester_ref"]
    again = await uc.report_grid_event(uow, WORKER, grid_body(), ctx=c)
    assert again.item["case_no"].endswith("-0002")


async def test_idempotent_replay_returns_the_first_case_and_emits_nothing_new():
    uow, c, _ = world()
    first = await uc.report_grid_event(uow, WORKER, grid_body(), ctx=c, idempotency_key="k1")
    replay = await uc.report_grid_event(uow, WORKER, grid_body(), ctx=c, idempotency_key="k1")
    assert not replay.created and replay.item["id"] == first.item["id"]
    assert len(uow.db.cases) == 1 and len(uow.committed_events) == 1
    with pytest.raises(Conflict) as err:
        await uc.report_grid_event(uow, WORKER, grid_body(description="另一件事"), ctx=c, idempotency_key="k1")
    assert err.value.code == "idempotency_key_reused" and err.value.extra["case_no"] == first.item["case_no"]
    assert len(uow.db.cases) == 1


async def test_a_concurrent_retry_that_wins_the_key_is_replayed():
    uow, c, _ = world()

    def concurrent_retry():  # another request with the same key stores its case first
        uow.db.cases["other"] = {"id": "other", "case_no": "X-1", "idem_caller": WORKER.sub, "idem_key": "k",
                                 "idem_hash": model_hash(grid_body())}

    uow.new_cases.before_add = concurrent_retry
    result = await uc.report_grid_event(uow, WORKER, grid_body(), ctx=c, idempotency_key="k")
    assert not result.created and result.item["id"] == "other"
    assert uow.committed_events == []
    assert set(uow.db.cases) == {"other"}


async def test_duplicate_nearby_is_flagged_and_far_away_is_not():
    uow, c, _ = world()
    first = await new_case(uow, c)
    near = await new_case(uow, c, body=grid_body(location=grid_body().location.model_copy(
        update={"lat": LAT + 0.001})))
    far = await new_case(uow, c, body=grid_body(location=grid_body().location.model_copy(update={"lat": LAT + 0.1})))
    other_kind = await new_case(uow, c, body=grid_body(category="family"))
    assert near["duplicate_of"] == first["id"]
    assert far["duplicate_of"] is None and other_kind["duplicate_of"] is None
    assert [e.duplicate_of for e in uow.events_of(GridEventReported)] == [None, first["id"], None, None]
    assert uow.db.timeline[1]["detail"]["duplicate_of"] == first["id"]


async def test_a_grid_worker_reports_only_in_their_grids_and_nothing_is_written():
    uow, c, _ = world()
    with pytest.raises(Forbidden) as err:
        await uc.report_grid_event(uow, OTHER_WORKER, grid_body(), ctx=c)
    assert err.value.fields[0]["code"] == "not_your_grid"
    assert uow.db.cases == {} and uow.committed_events == [] and uow.db.counters == {}


async def test_unknown_category_and_grid_are_field_errors():
    uow, c, _ = world()
    with pytest.raises(Invalid) as err:
        await uc.report_grid_event(uow, WORKER, grid_body(category="nope"), ctx=c)
    assert err.value.fields[0]["field"] == "category"
    with pytest.raises(Invalid) as err:
        await uc.report_grid_event(uow, DISPATCHER, grid_body(grid="XX-99"), ctx=c)
    assert err.value.fields[0]["code"] == "unknown_grid"
    assert uow.db.cases == {} and uow.committed_events == []


async def test_grading_raises_the_grade_for_many_people():
    uow, c, _ = world()
    case = await new_case(uow, c, body=grid_body(people_involved=60))
    assert case["grade"] == "red" and case["grade_reasons"]


async def test_petition_adds_the_requester_party_and_channel():
    uow, c, _ = world()
    body = PetitionIn(category="family", channel="visit", description="家庭赡养纠纷",
                      requester=PartyIn(name="李秀英", phone="13900139000"))
    result = await uc.register_petition(uow, DISPATCHER, body, ctx=c)
    case = result.item
    assert case["channel"] == "petition" and case["sub_channel"] == "visit"
    assert case["parties"][-1]["role"] == "requester" and case["parties"][-1]["name"] == "李秀英"
    assert uow.events_of(GridEventReported)[0].sub_channel == "visit"


async def test_demand_snaps_to_the_nearest_grid_and_records_the_system():
    uow, c, _ = world()
    g = c.jurisdiction.grids[3]
    body = demand_body(location=demand_body().location.model_copy(update={"lat": g.centroid.lat,
                                                                          "lon": g.centroid.lon}),
                       external_ref="YSS-1")
    result = await uc.submit_demand(uow, SYSTEM, body, ctx=c)
    assert result.item["grid"] == g.code and result.item["source_system"] == "yue-sheng-shi"
    assert result.item["external_ref"] == "YSS-1"
    assert uow.db.requesters[0]["source_system"] == "yue-sheng-shi"


async def test_an_unregistered_system_is_refused():
    uow, c, _ = world()
    rogue = SYSTEM.model_copy(update={"external_system": "rogue"})
    with pytest.raises(Forbidden):
        await uc.submit_demand(uow, rogue, demand_body(), ctx=c)
    assert uow.db.cases == {}


async def test_attachments_are_claimed_linked_and_must_be_the_reporters():
    uow, c, _ = world()
    uow.db.attachments["a1"] = {"id": "a1", "uploaded_by": WORKER.sub, "case_id": None}
    uow.db.attachments["a2"] = {"id": "a2", "uploaded_by": "someone-else", "case_id": None}
    with pytest.raises(Invalid) as err:
        await uc.report_grid_event(uow, WORKER, grid_body(attachments=["a1", "a2"]), ctx=c)
    assert err.value.fields[0]["code"] == "unknown_attachment" and "a2" in err.value.fields[0]["message_en"]
    assert uow.db.attachments["a1"]["case_id"] is None and uow.db.cases == {}
    case = (await uc.report_grid_event(uow, WORKER, grid_body(attachments=["a1"]), ctx=c)).item
    assert uow.db.attachments["a1"]["case_id"] == case["id"]
