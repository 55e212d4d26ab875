"""Reading on in-memory fakes: the visible list, one case, Open311 queries and the updates feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fengqiao_common.errors import NotFound
from fengqiao_intake.usecases import open311, reads
from fengqiao_intake.usecases.case_admin import Merge, merge
from fengqiao_intake.usecases.cases import NewCase, create_case
from fengqiao_intake.usecases.status import record_event
from intake_usecase_kit import (
    DISPATCHER,
    OTHER_SYSTEM,
    OTHER_WORKER,
    SYSTEM,
    WORKER,
    demand_body,
    envelope,
    new_case,
    world,
)
from test_intake_usecases_status import _dispatched


async def test_list_shows_each_reader_what_they_may_see():
    uow, c, _ = world()
    mine = await new_case(uow, c)
    uow.clock.advance(timedelta(seconds=1))
    demand = await new_case(uow, c, SYSTEM)
    page = await reads.list_cases(uow, DISPATCHER, reads.CaseQuery())
    assert [r["id"] for r in page.items] == [demand["id"], mine["id"]] and page.total == 2
    assert [r["id"] for r in (await reads.list_cases(uow, WORKER, reads.CaseQuery())).items] == [mine["id"]]
    assert [r["id"] for r in (await reads.list_cases(uow, SYSTEM, reads.CaseQuery())).items] == [demand["id"]]
    assert (await reads.list_cases(uow, OTHER_SYSTEM, reads.CaseQuery())).total == 0
    only = await reads.list_cases(uow, DISPATCHER, reads.CaseQuery(channel="external"))
    assert [r["id"] for r in only.items] == [demand["id"]]
    paged = await reads.list_cases(uow, DISPATCHER, reads.CaseQuery(limit=1, offset=1))
    assert [r["id"] for r in paged.items] == [mine["id"]] and paged.total == 2


async def test_get_case_has_timeline_requesters_and_case_numbers():
    uow, c, _ = world()
    target = await new_case(uow, c, SYSTEM)
    source = await new_case(uow, c, OTHER_SYSTEM.model_copy(update={"external_system": "yue-shang-tong"}),
                            body=demand_body(description="另一件"))
    await merge(uow, DISPATCHER, Merge(source["id"], into=target["id"]))
    detail = await reads.get_case(uow, SYSTEM, target["case_no"])
    assert detail.requesters == 2 and [t["kind"] for t in detail.timeline] == ["case.reported", "case.merged_in"]
    merged = await reads.get_case(uow, DISPATCHER, source["id"])
    assert merged.merged_into_case_no == target["case_no"] and merged.case["status"] == "merged"
    # the merged-away case's system now follows the surviving case too
    assert (await reads.get_case(uow, OTHER_SYSTEM, target["id"])).case["id"] == target["id"]
    with pytest.raises(NotFound):
        await reads.get_case(uow, OTHER_WORKER, target["id"])


async def test_open311_finds_only_open311_requests_with_their_context():
    uow, c, _ = world()
    await new_case(uow, c, SYSTEM)  # not an Open311 request
    o = (await create_case(uow, SYSTEM, NewCase(demand_body(), "open311", snap_grid=True), ctx=c)).item
    p = _dispatched(o, uow.now() + timedelta(seconds=5))
    await record_event(uow, envelope(p), p)
    [found] = await open311.find_requests(uow, open311.RequestQuery(ids=[o["case_no"]]))
    assert found.case["id"] == o["id"] and found.context["department"] == "RSS"
    assert found.context["resolve_by"] and found.context["note"].startswith("派单")
    start, end = uow.now() - timedelta(days=1), uow.now() + timedelta(days=1)
    assert [r.case["id"] for r in await open311.find_requests(uow, open311.RequestQuery(start=start, end=end))] == [
        o["id"]]
    assert await open311.find_requests(uow, open311.RequestQuery(start=start, end=end, statuses=["closed"])) == []
    [update] = await open311.status_updates(uow, start, end, limit=10)
    assert update["case_no"] == o["case_no"] and update["status_effect"] == "dispatched"
