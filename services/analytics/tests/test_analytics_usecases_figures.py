"""Reads on the in-memory fakes: situation figures from the counters, the screen snapshot and labels,
exports (masking, date check), rebuild (reset and status)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from analytics_fakes import FakeAnalyticsUoW, context
from fengqiao_analytics.usecases import exports, ingest, rebuild, screen, situation
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Invalid
from usecase_events import T0, mediation, order, report, resolved

CTX = context()
LEADER = Principal(sub="u-l", roles=["leader"])
DISPATCHER = Principal(sub="u-d", roles=["dispatcher"])


async def some_history() -> FakeAnalyticsUoW:
    uow = FakeAnalyticsUoW()  # its clock: 2026-03-02 10:00 Asia/Shanghai
    c1, c2, o1 = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await ingest.fold_batch(uow, CTX, [
        report(c1, grid="WH-02", category="labour", grade="red", requester="ref-1"),
        report(c2, grid="WH-02", category="other", at=T0 - timedelta(days=1)),
        order("order.dispatched", c1, o1, department="RSS"), order("order.signed", c1, o1, department="RSS", seq=2),
        order("order.resolved", c1, o1, department="RSS", seq=3, at=T0 + timedelta(hours=1)),
        resolved(c1, T0 + timedelta(hours=2)),
        mediation("mediation.booked", c2), mediation("judicial.reminded", c2),
    ])
    return uow


async def test_summary_departments_mediation_and_trends_come_from_the_counters():
    uow = await some_history()
    s = await situation.summary(uow, CTX)
    assert (s["today_date"], s["total"], s["today"], s["open"], s["orders"]) == ("2026-03-02", 2, 1, 1, 1)
    assert {d["code"]: d["count"] for d in s["by_domain"] if d["count"]} == {"labour": 1, "other": 1}
    assert next(g for g in s["by_grid"] if g["code"] == "WH-02")["open"] == 1
    assert {x["code"]: x["count"] for x in s["by_status"] if x["count"]} == {"resolved": 1, "reported": 1}
    deps = {d["code"]: d for d in await situation.departments(uow, CTX)}
    assert deps["RSS"]["dispatched"] == 1 and deps["RSS"]["response_rate"] == 1.0 and deps["RSS"]["rank"] == 1
    assert deps["SFS"]["rank"] is None and deps["SFS"]["score"] is None
    m = await situation.mediation(uow, CTX)
    assert m["bookings"] == 1 and m["judicial_reminded"] == 1 and m["judicial_material_requested"] == 0
    (cat,) = m["by_category"]
    assert cat["counts"] == {"mediation.booked": 1, "judicial.reminded": 1} and cat["预约"] == 1
    assert cat["司法确认申请期限提醒"] == 1  # the registry's label for a type without a short one
    t = await situation.trends(uow, CTX, "day", 3)
    assert [(x["period"], x["reported"], x["resolved"]) for x in t["series"]] == [
        ("2026-02-28", 0, 0), ("2026-03-01", 1, 0), ("2026-03-02", 1, 1)]
    w = await situation.trends(uow, CTX, "week", 2)
    assert [x["period"] for x in w["series"]] == ["2026-W09", "2026-W10"] and w["series"][1]["reported"] == 1


async def test_the_screen_snapshot_and_the_event_labels():
    uow = await some_history()
    snap = await screen.snapshot(uow, CTX)
    assert snap["headline"]["total"] == 2 and snap["generated_at"].startswith("2026-03-02T10:00:00")
    assert [t["topic"] for t in snap["ticker"]] == ["grid.event.reported", "grid.event.reported", "case.resolved"]
    assert snap["ticker"][0]["grade_name"] and snap["ticker"][0]["colour"]
    assert all("requester" not in str(x) for x in snap["signals"])
    labels = screen.event_labels()
    assert labels["judicial.reminded"]["zh"] and labels["grid.event.reported"] == {"zh": "受理登记",
                                                                                  "en": labels["grid.event.reported"]["en"]}


async def test_exports_mask_personal_columns_unless_the_role_may_see_them():
    uow = await some_history()
    ex = await exports.export(uow, CTX, LEADER, exports.ExportQuery("cases", filters={"grid": "WH-02"}), max_rows=10)
    rows = [r async for part in ex.rows for r in part]
    col = ex.columns.index("requester_ref")
    assert len(rows) == 2 and sorted(str(r[col]) for r in rows) == ["***", "None"]
    ex = await exports.export(uow, CTX, DISPATCHER, exports.ExportQuery("cases"), max_rows=10)
    assert "ref-1" in [r[col] async for part in ex.rows for r in part]
    with pytest.raises(Invalid) as e:
        await exports.export(uow, CTX, LEADER, exports.ExportQuery("cases", date(2026, 3, 2), date(2026, 3, 1)),
                             max_rows=10)
    assert e.value.fields[0]["loc"] == ["query", "to"] and e.value.fields[0]["code"] == "date_range"


async def test_rebuild_empties_the_read_models_moves_the_generation_and_keeps_the_announcements():
    uow = await some_history()
    uow.db.processed["g-g1"] = {"e1", "e2"}
    uow.db.emitted.add("s1")
    st = await rebuild.status(uow, consumer_group="g")
    assert st == {"generation": 1, "consumer_group": "g-g1", "processed_events": 2, "rebuilt_at": None}

    class Supervisor:
        calls = 0

        async def switch(self, reset):
            Supervisor.calls += 1
            return await reset()

    out = await rebuild.rebuild(uow, consumer_group="g", supervisor=Supervisor())
    assert out == {"generation": 2, "consumer_group": "g-g2", "status": "replaying"} and Supervisor.calls == 1
    assert uow.db.cases == {} and uow.db.counters == {} and uow.db.ticker == [] and uow.db.emitted == {"s1"}
    st = await rebuild.status(uow, consumer_group="g")
    assert st["generation"] == 2 and st["processed_events"] == 0 and st["rebuilt_at"] == uow.now()
    assert (await situation.summary(uow, CTX))["total"] == 0
    out = await rebuild.rebuild(uow, consumer_group="g")  # no consumer in this process
    assert out["generation"] == 3
