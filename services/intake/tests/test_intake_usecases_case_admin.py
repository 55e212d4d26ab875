"""Staff actions on in-memory fakes: regrade, merge, rating (and the reopening it may cause)."""

from __future__ import annotations

import pytest
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_events.payloads.case import CaseMerged, CaseRated, CaseRegraded, CaseReopened
from fengqiao_intake.usecases import case_admin as uc
from intake_usecase_kit import DISPATCHER, OTHER_WORKER, SYSTEM, demand_body, new_case, world


async def test_regrade_changes_the_grade_logs_and_emits():
    uow, c, _ = world()
    case = await new_case(uow, c)
    out = await uc.regrade(uow, DISPATCHER, uc.Regrade(case["case_no"], grade="red", reason="威胁人身安全"))
    assert out["grade"] == "red" and uow.db.cases[case["id"]]["grade"] == "red"
    assert uow.db.cases[case["id"]]["grade_reasons"][-1] == "staff:威胁人身安全"
    entry = uow.db.timeline[-1]
    assert entry["kind"] == "case.regraded" and entry["detail"]["old_grade"] == case["grade"]
    [ev] = uow.events_of(CaseRegraded)
    assert (ev.old_grade, ev.new_grade, ev.by.id) == (case["grade"], "red", DISPATCHER.sub)
    with pytest.raises(Conflict) as err:
        await uc.regrade(uow, DISPATCHER, uc.Regrade(case["id"], grade="red", reason="again"))
    assert err.value.code == "same_grade" and len(uow.events_of(CaseRegraded)) == 1


async def test_regrade_of_an_invisible_case_is_not_found():
    uow, c, _ = world()
    case = await new_case(uow, c)
    with pytest.raises(NotFound):
        await uc.regrade(uow, OTHER_WORKER, uc.Regrade(case["id"], grade="red", reason="nope"))
    assert len(uow.committed_events) == 1


async def test_merge_moves_requesters_marks_merged_and_emits():
    uow, c, _ = world()
    target = await new_case(uow, c, SYSTEM)
    source = await new_case(uow, c, SYSTEM.model_copy(update={"sub": "key-yss-2"}), body=demand_body(
        description="同一件事"))
    merged = await uc.merge(uow, DISPATCHER, uc.Merge(source["id"], into=target["case_no"], reason="重复"))
    assert merged.case["status"] == "merged" and merged.case["merged_into"] == target["id"]
    assert uow.db.cases[source["id"]]["status"] == "merged"
    assert uow.locked == sorted([source["id"], target["id"]])
    assert {r["origin_case_id"] for r in uow.db.requesters if r["case_id"] == target["id"]} == {
        source["id"], target["id"]}
    kinds = [(t["case_id"], t["kind"]) for t in uow.db.timeline[-2:]]
    assert kinds == [(source["id"], "case.merged"), (target["id"], "case.merged_in")]
    [ev] = uow.events_of(CaseMerged)
    assert (ev.case_id, ev.into_case_no) == (source["id"], target["case_no"])
    with pytest.raises(Conflict) as err:
        await uc.merge(uow, DISPATCHER, uc.Merge(source["id"], into=target["id"]))
    assert err.value.code == "case_not_open" and err.value.extra["status"] == "merged"


async def test_merge_refuses_itself_and_unknown_targets():
    uow, c, _ = world()
    case = await new_case(uow, c)
    with pytest.raises(Invalid) as err:
        await uc.merge(uow, DISPATCHER, uc.Merge(case["id"], into=case["case_no"]))
    assert err.value.fields[0]["code"] == "same_case"
    with pytest.raises(Invalid) as err:
        await uc.merge(uow, DISPATCHER, uc.Merge(case["id"], into="nope"))
    assert err.value.fields[0]["code"] == "unknown_case"
    assert uow.events_of(CaseMerged) == [] and uow.db.cases[case["id"]]["merged_into"] is None


def _resolve(uow, case_id: str) -> None:
    uow.db.timeline.append({"id": 10_000, "case_id": case_id, "at": uow.now(), "kind": "case.resolved",
                            "status_effect": "resolved", "actor": None, "department": None, "note": "x",
                            "detail": {}, "event_id": "e-res"})
    uow.db.cases[case_id].update(status="resolved", status_at=uow.now())


async def test_rating_needs_a_resolved_case_and_is_taken_once_per_resolution():
    uow, c, _ = world()
    case = await new_case(uow, c, SYSTEM)
    with pytest.raises(Conflict) as err:
        await uc.rate(uow, SYSTEM, uc.Rate(case["id"], rating="satisfied"))
    assert err.value.code == "not_resolved"
    _resolve(uow, case["id"])
    out = await uc.rate(uow, SYSTEM, uc.Rate(case["id"], rating="satisfied", comment="好"))
    assert out["last_rating"] == "satisfied" and uow.db.ratings[0]["comment"] == "好"
    assert uow.events_of(CaseRated)[0].rating == "satisfied" and uow.events_of(CaseReopened) == []
    with pytest.raises(Conflict) as err:
        await uc.rate(uow, SYSTEM, uc.Rate(case["id"], rating="unsatisfied"))
    assert err.value.code == "already_rated"


async def test_unsatisfied_reopens_the_case_and_queues_webhooks():
    uow, c, _ = world()
    uow.db.webhooks["h1"] = {"id": "h1", "external_system": "yue-sheng-shi", "active": True, "url": "https://x",
                             "secret": "s", "created_at": uow.now()}
    case = await new_case(uow, c, SYSTEM)
    _resolve(uow, case["id"])
    uow.clock.advance(__import__("datetime").timedelta(minutes=1))
    out = await uc.rate(uow, SYSTEM, uc.Rate(case["id"], rating="unsatisfied", comment="没修好"))
    assert out["status"] == "reopened" and uow.db.cases[case["id"]]["status"] == "reopened"
    [ev] = uow.events_of(CaseReopened)
    assert ev.reason == "没修好"
    [delivery] = uow.db.deliveries.values()
    assert '"status":"reopened"' in delivery["body"] and '"previous_status":"resolved"' in delivery["body"]
