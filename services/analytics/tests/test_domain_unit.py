"""Pure rules of the read models and the weak-signal ledger (no database, no broker)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fengqiao_analytics.domain import readmodel as rm
from fengqiao_analytics.domain import signals as ws
from fengqiao_events.payloads import case as C
from fengqiao_events.payloads import order as O
from fengqiao_events.payloads.common import Actor

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
BY = Actor(id="u")


def case_events():
    h = timedelta(hours=1)
    return [
        ("grid.event.reported", C.GridEventReported(
            case_id="c1", case_no="N1", channel="grid_app", category="labour", grade="blue", grid="WH-01",
            community="C01", street="WH", district="JH", summary="拖欠工资", description="d", reported_at=T0)),
        ("case.regraded", C.CaseRegraded(case_id="c1", case_no="N1", old_grade="blue", new_grade="red", reason="r",
                                         by=BY, at=T0 + h)),
        ("case.resolved", O.CaseResolved(case_id="c1", at=T0 + 5 * h)),
        ("case.rated", C.CaseRated(case_id="c1", case_no="N1", rating="unsatisfied", by=BY, at=T0 + 6 * h)),
        ("case.reopened", C.CaseReopened(case_id="c1", case_no="N1", reason="r", by=BY, at=T0 + 7 * h)),
    ]


def fold(events, row=None):
    row = {"case_id": "c1", **(row or {})}
    for topic, p in events:
        row = rm.apply_case_event(row, topic, p)
    return row


def test_a_transfer_moves_the_case_and_its_counters_whichever_topic_arrives_first():
    transferred = ("case.transferred", C.CaseTransferred(
        case_id="c1", case_no="N1", from_grid="WH-01", to_grid="WH-40", from_community="C01", to_community="C07",
        reason="r", by=BY, at=T0 + timedelta(hours=2)))
    rows = [fold(perm) for perm in itertools.permutations([case_events()[0], transferred])]
    assert {(r["grid"], r["community"]) for r in rows} == {("WH-40", "C07")}
    counted = [rm.case_contributions(r, TZ) for r in rows]
    assert counted[0] == counted[1]
    assert not any("WH-01" in key for key in counted[0]), counted[0]


def test_case_reducer_gives_the_same_row_and_counters_in_any_arrival_order():
    results = set()
    for perm in itertools.permutations(case_events()):
        row = fold(perm)
        results.add((row["status"], row["grade"], row["rating"], row["reopen_count"],
                     tuple(sorted(rm.case_contributions(row, TZ).items()))))
    assert len(results) == 1
    status, grade, rating, reopens, _ = results.pop()
    assert (status, grade, rating, reopens) == ("reported", "red", "unsatisfied", 1)  # reopened after resolution


def test_status_follows_the_latest_of_resolution_closure_and_reopening():
    row = fold(case_events()[:3])
    assert row["status"] == "resolved" and rm.is_open(row) is False
    row = fold([("case.closed", O.CaseClosed(case_id="c1", at=T0 + timedelta(hours=9)))], fold(case_events()))
    assert row["status"] == "closed"
    assert fold(case_events()[:1], {"departments": ["SFS"]})["status"] == "in_progress"
    assert rm.case_status({"merged_into": "c2", "departments": ["SFS"]}) == "merged"


def test_contributions_count_a_case_once_per_dimension_and_nothing_before_its_report():
    assert rm.case_contributions(fold(case_events()[1:]), TZ) == Counter()
    c = rm.case_contributions(fold(case_events()[:1], {"departments": ["RSS"], "overdue_orders": 1}), TZ)
    assert c[("total", "all")] == 1 and c[("day", "2026-11-02")] == 1 and c[("grade", "blue")] == 1
    assert c[("open", "all")] == 1 and c[("overdue", "all")] == 1 and c[("department", "RSS")] == 1
    assert c[("status", "in_progress")] == 1 and sum(v for (d, _k), v in c.items() if d == "status") == 1
    late = T0.replace(hour=17)  # 01:00 next day in Shanghai
    assert rm.local_day(late, TZ) == "2026-11-03"


def test_diff_is_the_change_between_contributions():
    old, new = Counter({("a", "x"): 1, ("b", "y"): 1}), Counter({("a", "x"): 1, ("c", "z"): 1})
    assert rm.diff(old, new) == {("b", "y"): -1, ("c", "z"): 1}


def order_events():
    ref = dict(order_id="o1", case_id="c1", department="SFS")
    return [
        ("order.dispatched", O.OrderDispatched(**ref, seq=1, at=T0, department_name="司法所", level="street",
                                               role="lead", category="family", grade="blue", summary="s",
                                               description="d")),
        ("order.signed", O.OrderSigned(**ref, seq=2, at=T0 + timedelta(minutes=10), officer="x", within_limit=True)),
        ("deadline.missed", O.DeadlineMissed(**ref, seq=3, at=T0 + timedelta(hours=1), stage="on_site",
                                             due_at=T0 + timedelta(hours=1))),
        ("order.resolved", O.OrderResolved(**ref, seq=4, at=T0 + timedelta(hours=3), result="ok", within_limit=False)),
    ]


def test_order_reducer_is_order_tolerant_and_feeds_the_three_rates():
    results = set()
    for perm in itertools.permutations(order_events()):
        o = {"order_id": "o1"}
        for topic, p in perm:
            o = rm.apply_order_event(o, topic, p)
        results.add((o["status"], tuple(sorted(rm.order_contributions(o).items()))))
    assert len(results) == 1
    status, contrib = results.pop()
    c = dict(contrib)
    assert status == "resolved"
    assert c[("d_dispatched", "SFS")] == c[("d_signed_within", "SFS")] == c[("d_resolved", "SFS")] == 1
    assert c[("d_overdue", "SFS")] == 1 and ("d_overdue_open", "SFS") not in c  # resolved: no longer open
    assert c[("d_ttr_sum", "SFS")] == 3 * 3600
    fig = rm.department_figures("SFS", c | {("d_rated", "SFS"): 2, ("d_satisfied", "SFS"): 1},
                                {rm.ttr_bucket(3 * 3600): 1})
    assert fig["response_rate"] == 1.0 and fig["resolution_rate"] == 1.0 and fig["satisfaction_rate"] == 0.5
    assert fig["score"] == round(2.5 / 3, 4)
    assert 3 * 3600 <= fig["p90_resolve_seconds"] < 3 * 3600 * 1.2


def test_p90_histogram_bounds_the_exact_value_within_one_bucket():
    values = [60 * m for m in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)]
    hist = Counter(rm.ttr_bucket(v) for v in values)
    exact = sorted(values)[-2]  # nearest rank ceil(0.9 * 12) = 11
    assert exact <= rm.p90_from_hist(hist) <= exact * 1.2 + 0.1
    assert rm.p90_from_hist({}) is None and rm.rate(1, 0) is None


def test_ranking_orders_by_score_and_leaves_idle_departments_unranked():
    deps = [{"code": "A", "score": 0.5, "dispatched": 3}, {"code": "B", "score": 0.9, "dispatched": 1},
            {"code": "C", "score": None, "dispatched": 0}]
    assert [(d["code"], d["rank"]) for d in rm.rank(deps)] == [("B", 1), ("A", 2), ("C", None)]


def test_wage_arrears_detection():
    assert rm.is_wage_arrears("labour", "工厂拖欠工资三个月")
    assert rm.is_wage_arrears("labour", "x", keywords=["欠薪"])
    assert not rm.is_wage_arrears("family", "欠薪")
    assert not rm.is_wage_arrears("labour", "劳动合同纠纷")


def test_signal_windows_ids_transitions_and_holidays():
    idx, start, end = ws.window(date(2026, 11, 5), 7)
    assert start <= date(2026, 11, 5) < end and (end - start).days == 7
    assert ws.window_by_index(idx, 7) == (start, end)
    assert ws.signal_id("repeat_domain_grid", "WH-01|labour|1") == ws.signal_id("repeat_domain_grid", "WH-01|labour|1")
    assert ws.signal_id("a", "x") != ws.signal_id("b", "x")
    assert ws.can_transition("new", "assigned") and ws.can_transition("assigned", "handled")
    assert ws.can_transition("new", "dismissed") and not ws.can_transition("handled", "assigned")
    assert not ws.can_transition("new", "handled")
    assert ws.rising(10, 4, 2.0, 5) and not ws.rising(10, 6, 2.0, 5) and not ws.rising(4, 0, 2.0, 5)
    assert ws.next_holiday(date(2026, 9, 20), 14) == date(2026, 9, 25)  # Mid-autumn 2026
    assert ws.next_holiday(date(2026, 9, 20), 3) is None
    assert ws.next_holiday(date(2099, 1, 1), 30) is None  # no calendar data: no signal rather than an error
