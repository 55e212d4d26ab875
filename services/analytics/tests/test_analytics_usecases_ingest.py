"""Ingest on the in-memory fakes: the batch fold writes the case and order rows, the counters, the ticker
and the rule signals (with their weak-signal.flagged announcement), and equals folding one by one."""

from __future__ import annotations

import uuid
from datetime import timedelta

from analytics_fakes import FakeAnalyticsUoW, FakeDb, context
from fengqiao_analytics.domain import signals as ws
from fengqiao_analytics.domain import topics
from fengqiao_analytics.usecases import ingest
from fengqiao_events.payloads.analytics import WeakSignalFlagged
from fengqiao_events.registry import all_specs
from usecase_events import T0, mediation, order, report, resolved, weak_signal

CTX = context()


def a_case_with_an_order():
    cid, oid = str(uuid.uuid4()), str(uuid.uuid4())
    return cid, oid, [
        report(cid, grid="WH-03", community="C01", category="neighbour", grade="red"),
        order("order.dispatched", cid, oid, category="neighbour", grid="WH-03"),
        order("order.signed", cid, oid, seq=2, at=T0 + timedelta(minutes=20)),
        order("order.resolved", cid, oid, seq=3, at=T0 + timedelta(hours=2)),
        resolved(cid, T0 + timedelta(hours=3)),
    ]


async def test_a_batch_writes_the_case_and_order_rows_the_counters_and_the_ticker():
    cid, oid, items = a_case_with_an_order()
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, items)
    case, o, c = uow.db.cases[cid], uow.db.orders[oid], uow.db.counters
    assert case["reported"] and case["status"] == "resolved" and case["departments"] == ["SFS"]
    assert o["status"] == "resolved" and o["sign_within"] is True and o["dispatched"] is True
    assert c[("total", "all")] == 1 and c[("day", "2026-03-02")] == 1 and c[("domain", "neighbour")] == 1
    assert c[("open", "all")] == 0 and c[("status", "resolved")] == 1 and c[("resolved_day", "2026-03-02")] == 1
    assert c[("d_dispatched", "SFS")] == 1 and c[("d_signed_within", "SFS")] == 1 and c[("d_resolved", "SFS")] == 1
    assert c[("d_ttr_sum", "SFS")] == int(timedelta(hours=2, minutes=-5).total_seconds())
    assert [t["topic"] for t in uow.db.ticker] == ["grid.event.reported", "case.resolved"]
    assert uow.commits == 1 and uow.committed_events == []


async def test_the_batch_fold_equals_folding_one_event_at_a_time():
    cid, oid, items = a_case_with_an_order()
    cid2 = str(uuid.uuid4())
    items += [report(cid2, grid="WH-03", category="neighbour", at=T0 + timedelta(hours=1)),
              order("order.escalated", cid, oid, seq=4), order("order.returned", cid2, str(uuid.uuid4())),
              mediation("mediation.booked", cid2, mode="home"), weak_signal(grid="WH-03", category="neighbour",
                                                                            at=T0 - timedelta(days=1))]
    batch, one = FakeAnalyticsUoW(), FakeAnalyticsUoW()
    await ingest.fold_batch(batch, CTX, items)
    for e, p in items:
        await ingest.fold_one(one, CTX, e, p)
    for name in ("cases", "orders", "counters", "emitted"):
        assert getattr(batch.db, name) == getattr(one.db, name), name
    strip = lambda rows: {k: {f: v for f, v in r.items() if f != "updated_at"} for k, r in rows.items()}  # noqa: E731
    assert strip(batch.db.signals) == strip(one.db.signals)
    assert [e.signal_id for e in batch.events_of(WeakSignalFlagged)] == \
        [e.signal_id for e in one.events_of(WeakSignalFlagged)]
    assert {t["topic"] for t in batch.db.ticker} == {t["topic"] for t in one.db.ticker}


async def test_an_escalation_raises_a_signal_once_and_announces_it_once():
    cid, oid = str(uuid.uuid4()), str(uuid.uuid4())
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, [report(cid), order("order.dispatched", cid, oid),
                                       order("order.escalated", cid, oid, seq=2)])
    sid = ws.signal_id("escalation", cid)
    assert uow.db.signals[sid]["active"] and uow.db.signals[sid]["rule"] == "escalation"
    assert [e.signal_id for e in uow.events_of(WeakSignalFlagged)] == [sid]
    assert uow.db.counters[("d_escalated", "SFS")] == 1 and uow.db.cases[cid]["escalation_count"] == 1
    await ingest.fold_batch(uow, CTX, [order("order.escalated", cid, oid, seq=3)])
    assert len(uow.events_of(WeakSignalFlagged)) == 1  # raised already: no second announcement
    assert "案件" in uow.db.signals[sid]["reasons"][0] and "2" in uow.db.signals[sid]["reasons"][0]
    assert [t["topic"] for t in uow.db.ticker].count("weak-signal.flagged") == 1


async def test_three_reports_of_one_domain_in_one_grid_raise_the_repeat_rule():
    uow = FakeAnalyticsUoW()
    items = [report(grid="WH-07", community="C02", category="urban", at=T0 + timedelta(hours=h)) for h in range(3)]
    await ingest.fold_batch(uow, CTX, items[:2])
    assert uow.events_of(WeakSignalFlagged) == []
    await ingest.fold_batch(uow, CTX, items[2:])
    (flag,) = uow.events_of(WeakSignalFlagged)
    assert flag.rule == "repeat_domain_grid" and flag.grid == "WH-07" and flag.category == "urban"
    row = uow.db.signals[flag.signal_id]
    assert sorted(row["case_ids"]) == sorted(p.case_id for _, p in items) and row["first_at"] == T0


async def test_a_grid_workers_report_becomes_a_case_when_one_follows():
    uow = FakeAnalyticsUoW()
    (e, p) = weak_signal(grid="WH-09", category="labour", at=T0, people=12)
    await ingest.fold_batch(uow, CTX, [(e, p)])
    row = uow.db.signals[p.signal_id]
    assert row["source"] == "report" and row["active"] and len(row["reasons"]) == 2  # + many people
    assert row["became_case_id"] is None
    later = report(grid="WH-09", category="labour", at=T0 + timedelta(days=2))
    await ingest.fold_batch(uow, CTX, [later])
    assert uow.db.signals[p.signal_id]["became_case_id"] == later[1].case_id


async def test_mediation_events_count_including_the_court_follow_ups():
    cid = str(uuid.uuid4())
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, [mediation("judicial.applied", cid),
                                       mediation("judicial-material.requested", cid),
                                       mediation("judicial.reminded", cid), mediation("mediation.booked", cid,
                                                                                       mode="home")])
    c = uow.db.counters
    assert c[("med", "judicial-material.requested")] == 1 and c[("med", "judicial.reminded")] == 1
    assert c[("med_cat", "judicial.reminded|neighbour")] == 1 and c[("med", "home")] == 1
    assert uow.db.cases == {}  # mediation events do not touch the case rows


async def test_a_consumer_of_an_old_generation_writes_nothing():
    uow = FakeAnalyticsUoW(FakeDb(generation=2))
    await ingest.fold_batch(uow, CTX, [report()], generation=1)
    assert uow.db.cases == {} and uow.db.counters == {}
    await ingest.fold_batch(uow, CTX, [report()], generation=2)
    assert uow.db.counters[("total", "all")] == 1


def test_every_registered_topic_is_handled_or_ignored_from_the_registry():
    registered = {s.topic for s in all_specs()}
    assert topics.HANDLED | topics.IGNORES == registered and not topics.HANDLED & topics.IGNORES
    assert {"judicial-material.requested", "judicial.reminded", "mediation.referred"} <= topics.MEDIATION_TOPICS
    assert topics.ORDER_TOPICS == {s.topic for s in all_specs() if s.order_field} - topics.IGNORES
    from fengqiao_analytics.consumers import spec

    class D:  # the consumer wiring only needs the group name here
        class settings:
            consumer_group = "g"

    s = spec(D, 3)
    assert s.name == "g-g3" and set(s.handlers) == topics.HANDLED and s.ignores == topics.IGNORES
    assert s.batch_handler is not None


def test_the_fakes_have_the_interface_of_the_sql_repositories():
    import inspect

    import analytics_fakes as f
    from fengqiao_analytics.adapters import repositories as r

    pairs = [(r.MetaRepository, f.FakeMeta), (r.CountersRepository, f.FakeCounters), (r.CasesRepository, f.FakeCases),
             (r.OrdersRepository, f.FakeOrders), (r.TickerRepository, f.FakeTicker),
             (r.SignalsRepository, f.FakeSignals), (r.ExportsRepository, f.FakeExports)]

    def api(cls) -> dict[str, list[str]]:
        return {n: list(inspect.signature(m).parameters)[1:] for n, m in inspect.getmembers(cls, inspect.isfunction)
                if not n.startswith("_")}

    for sql, fake in pairs:
        assert api(sql) == api(fake), sql.__name__
    from fengqiao_analytics.adapters.uow import AnalyticsUoW

    assert set(AnalyticsUoW.__annotations__) <= set(vars(FakeAnalyticsUoW()))  # the same repository attributes
    assert callable(FakeAnalyticsUoW.emit_identified)
