"""Moving a case to another grid (case.transferred) on in-memory fakes."""

from __future__ import annotations

import pytest
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_events.payloads.case import CaseTransferred
from fengqiao_intake.usecases import case_admin as uc
from intake_usecase_kit import DISPATCHER, OTHER_WORKER, new_case, world


def _other_grid(c, case) -> tuple[str, str]:
    g = next(g for g in c.jurisdiction.grids if g.code != case["grid"] and g.community != case["community"])
    return g.code, g.community


async def test_transfer_moves_the_case_and_its_community_logs_and_emits():
    uow, c, _ = world()
    case = await new_case(uow, c)
    grid, community = _other_grid(c, case)
    out = await uc.transfer(uow, DISPATCHER, uc.Transfer(case["case_no"], grid, "属于相邻网格"), ctx=c)
    stored = uow.db.cases[case["id"]]
    assert (out["grid"], out["community"]) == (stored["grid"], stored["community"]) == (grid, community)
    entry = uow.db.timeline[-1]
    assert entry["kind"] == "case.transferred"
    assert entry["detail"] == {"from_grid": case["grid"], "to_grid": grid, "reason": "属于相邻网格"}
    assert entry["note"].startswith("移交其他网格 / moved to another grid")
    [ev] = uow.events_of(CaseTransferred)
    assert (ev.case_id, ev.from_grid, ev.to_grid, ev.from_community, ev.to_community, ev.by.id) == (
        case["id"], case["grid"], grid, case["community"], community, DISPATCHER.sub)


async def test_transfer_refuses_the_same_grid_an_unknown_grid_and_invisible_cases():
    uow, c, _ = world()
    case = await new_case(uow, c)
    with pytest.raises(Conflict) as err:
        await uc.transfer(uow, DISPATCHER, uc.Transfer(case["id"], case["grid"], "原网格"), ctx=c)
    assert err.value.code == "same_grid"
    with pytest.raises(Invalid) as bad:
        await uc.transfer(uow, DISPATCHER, uc.Transfer(case["id"], "NO-SUCH-GRID", "不存在"), ctx=c)
    assert bad.value.fields[0]["field"] == "grid"
    with pytest.raises(NotFound):
        await uc.transfer(uow, OTHER_WORKER, uc.Transfer(case["id"], _other_grid(c, case)[0], "越权"), ctx=c)
    assert uow.events_of(CaseTransferred) == [] and uow.db.cases[case["id"]]["grid"] == case["grid"]
