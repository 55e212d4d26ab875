"""Access by purpose on the in-memory fakes (issue #15): drill-down rows per role (exports of cases and
orders, the weak-signal ledger), requester ids masked outside the street roles, no officer names kept,
and the cell neutralisation of exports."""

from __future__ import annotations

import uuid

import pytest
from analytics_fakes import FakeAnalyticsUoW, context
from fengqiao_analytics.domain.cells import safe_text
from fengqiao_analytics.domain.policy import scope_of
from fengqiao_analytics.usecases import exports, ingest, screen, signals
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden, NotFound
from usecase_events import order, report, weak_signal

CTX = context()
SFS = Principal(sub="u-sfs", roles=["department_officer"], department="SFS")
SFS_SYSTEM = Principal(sub="k-sfs", kind="api_key", roles=["department_system"], department="SFS")
GRID = Principal(sub="u-g", roles=["grid_worker"], grids=["WH-09"])
MEDIATOR = Principal(sub="u-m", roles=["mediator"], mediator_id="m1")
DISPATCHER = Principal(sub="u-d", roles=["dispatcher"])
LEADER = Principal(sub="u-l", roles=["leader"])


async def world() -> tuple[FakeAnalyticsUoW, dict[str, str]]:
    """held: SFS holds an order; returned: SFS returned its order (held one); other: only RSS; grid: in
    WH-09, no order."""
    ids = {k: str(uuid.uuid4()) for k in ("held", "returned", "other", "grid", "o1", "o2", "o3")}
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, [
        report(ids["held"], grid="WH-01", requester="ref-a"), report(ids["returned"], grid="WH-02"),
        report(ids["other"], grid="WH-03"), report(ids["grid"], grid="WH-09", requester="ref-b"),
        order("order.dispatched", ids["held"], ids["o1"], department="SFS", grid="WH-01"),
        order("order.signed", ids["held"], ids["o1"], department="SFS", seq=2),
        order("order.dispatched", ids["returned"], ids["o2"], department="SFS", grid="WH-02"),
        order("order.returned", ids["returned"], ids["o2"], department="SFS", seq=2),
        order("order.dispatched", ids["other"], ids["o3"], department="RSS", grid="WH-03"),
    ])
    return uow, ids


async def rows_of(uow, principal, kind: str) -> tuple[tuple[str, ...], list[list]]:
    ex = await exports.export(uow, CTX, principal, exports.ExportQuery(kind), max_rows=100)
    return ex.columns, [r async for part in ex.rows for r in part]


async def test_a_department_exports_the_cases_it_holds_or_held_and_only_its_orders():
    uow, ids = await world()
    for who in (SFS, SFS_SYSTEM):
        cols, rows = await rows_of(uow, who, "cases")
        assert {r[cols.index("case_id")] for r in rows} == {ids["held"], ids["returned"]}
        assert {r[cols.index("requester_ref")] for r in rows} == {"***", None}  # the pseudonym is masked
        cols, rows = await rows_of(uow, who, "orders")
        assert {r[cols.index("order_id")] for r in rows} == {ids["o1"], ids["o2"]}


async def test_a_grid_worker_exports_their_grids_and_the_street_roles_everything():
    uow, ids = await world()
    cols, rows = await rows_of(uow, GRID, "cases")
    assert [r[cols.index("case_id")] for r in rows] == [ids["grid"]]
    assert [r[cols.index("requester_ref")] for r in rows] == ["***"]
    _, rows = await rows_of(uow, GRID, "orders")
    assert rows == []
    cols, rows = await rows_of(uow, DISPATCHER, "cases")
    assert len(rows) == 4 and "ref-a" in {r[cols.index("requester_ref")] for r in rows}
    _, rows = await rows_of(uow, LEADER, "orders")
    assert len(rows) == 3


async def test_a_mediator_or_a_worker_without_grids_has_no_rows_to_drill_into():
    uow, _ = await world()
    for who in (MEDIATOR, Principal(sub="u-x", roles=["grid_worker"]), Principal(sub="u-y", roles=["department_officer"])):
        assert scope_of(who).empty
        with pytest.raises(Forbidden):
            await exports.export(uow, CTX, who, exports.ExportQuery("cases"), max_rows=10)


async def test_no_officer_name_is_kept_and_the_screen_ticker_shows_no_case_numbers():
    uow, ids = await world()
    assert all("officer" not in o for o in uow.db.orders.values())
    assert "officer" not in exports.ORDER_COLUMNS
    snap = await screen.snapshot(uow, CTX)
    assert snap["ticker"] and {t["case_no"] for t in snap["ticker"]} == {None}
    assert all(ids["held"][:6] not in str(t) for t in snap["ticker"])


async def test_the_ledger_lists_only_the_signals_of_the_callers_purpose():
    uow = FakeAnalyticsUoW()
    e_in, p_in = weak_signal(grid="WH-09")
    e_out, p_out = weak_signal(grid="WH-10")
    await ingest.fold_batch(uow, CTX, [(e_in, p_in), (e_out, p_out)])
    await signals.change_status(uow, DISPATCHER, signals.StatusChange(p_out.signal_id, "assigned", "SFS"))
    page = await signals.list_signals(uow, GRID, signals.SignalFilter())
    assert (page["total"], [s["signal_id"] for s in page["items"]]) == (1, [p_in.signal_id])
    page = await signals.list_signals(uow, SFS, signals.SignalFilter())
    assert [s["signal_id"] for s in page["items"]] == [p_out.signal_id]
    assert (await signals.list_signals(uow, LEADER, signals.SignalFilter()))["total"] == 2
    assert (await signals.get_signal(uow, SFS, p_out.signal_id))["assignee"] == "SFS"
    with pytest.raises(NotFound):
        await signals.get_signal(uow, SFS, p_in.signal_id)
    with pytest.raises(NotFound):
        await signals.get_signal(uow, GRID, p_out.signal_id)


def test_cells_that_a_spreadsheet_reads_as_formulas_are_neutralised():
    for bad in ("=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert safe_text(bad) == "'" + bad
    for fine in ("邻里噪音", "a=b", "", "'quoted", "1-2"):
        assert safe_text(fine) == fine
