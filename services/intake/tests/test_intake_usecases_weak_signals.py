"""Weak signals on in-memory fakes: report (own grids, idempotent), list by scope."""

from __future__ import annotations

import pytest
from fengqiao_common.errors import Conflict, Forbidden, Invalid
from fengqiao_events.payloads.case import WeakSignalReported
from fengqiao_intake.schemas import WeakSignalIn
from fengqiao_intake.usecases import weak_signals as uc
from intake_usecase_kit import DISPATCHER, OTHER_WORKER, WORKER, world


def _body(**over) -> WeakSignalIn:
    return WeakSignalIn(**({"grid": "WH-01", "category": "labour", "summary": "工资拖欠苗头",
                            "description": "工人议论老板要跑路"} | over))


async def test_report_stores_and_emits_and_is_not_a_case():
    uow, c, _ = world()
    result = await uc.report_weak_signal(uow, WORKER, _body(), ctx=c)
    assert result.created and result.item["community"]
    assert set(uow.db.weak_signals) == {result.item["id"]} and uow.db.cases == {}
    [ev] = uow.events_of(WeakSignalReported)
    assert ev.signal_id == result.item["id"] and ev.reporter.id == WORKER.sub


async def test_rules_grid_category_and_own_grids():
    uow, c, _ = world()
    with pytest.raises(Forbidden):
        await uc.report_weak_signal(uow, OTHER_WORKER, _body(), ctx=c)
    with pytest.raises(Invalid):
        await uc.report_weak_signal(uow, WORKER, _body(grid="XX-1"), ctx=c)
    with pytest.raises(Invalid):
        await uc.report_weak_signal(uow, WORKER, _body(category="nope"), ctx=c)
    assert uow.db.weak_signals == {} and uow.committed_events == []


async def test_idempotent_replay_and_reuse_conflict():
    uow, c, _ = world()
    first = await uc.report_weak_signal(uow, WORKER, _body(), ctx=c, idempotency_key="k")
    again = await uc.report_weak_signal(uow, WORKER, _body(), ctx=c, idempotency_key="k")
    assert not again.created and again.item["id"] == first.item["id"] and len(uow.committed_events) == 1
    with pytest.raises(Conflict):
        await uc.report_weak_signal(uow, WORKER, _body(summary="别的"), ctx=c, idempotency_key="k")


async def test_list_is_scoped_to_the_readers_grids_and_reports():
    uow, c, _ = world()
    mine = (await uc.report_weak_signal(uow, WORKER, _body(), ctx=c)).item
    uow.clock.advance(__import__("datetime").timedelta(seconds=1))
    theirs = (await uc.report_weak_signal(uow, OTHER_WORKER, _body(grid="WH-02"), ctx=c)).item
    assert [s["id"] for s in await uc.list_weak_signals(uow, WORKER, limit=10, offset=0)] == [mine["id"]]
    assert [s["id"] for s in await uc.list_weak_signals(uow, DISPATCHER, limit=10, offset=0)] == [
        theirs["id"], mine["id"]]
    assert [s["id"] for s in await uc.list_weak_signals(uow, DISPATCHER, limit=1, offset=1)] == [mine["id"]]
