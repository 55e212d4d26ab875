"""Pure rules moved out of the old service module: visibility, idempotency, duplicates, status, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict
from fengqiao_intake.domain import duplicates, idempotency, status, visibility
from fengqiao_intake.domain.webhooks import RetryPolicy, after_attempt, status_changed_body

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_case_scopes_and_the_visibility_test():
    worker = Principal(sub="w1", roles=["grid_worker"], grids=["WH-01"])
    system = Principal(sub="k", kind="api_key", roles=["external_system"], external_system="yss")
    nobody = Principal(sub="p", roles=["party"])
    assert visibility.case_scope(Principal(sub="l", roles=["leader"])).everything
    s = visibility.case_scope(worker)
    assert s == visibility.Scope(grids=("WH-01",), reporter="w1")
    in_grid, reported_elsewhere = {"grid": "WH-01"}, {"grid": "WH-09", "reporter": {"id": "w1"}}
    assert visibility.case_visible(s, in_grid) and visibility.case_visible(s, reported_elsewhere)
    assert not visibility.case_visible(s, {"grid": "WH-09", "reporter": {"id": "w2"}})
    ss = visibility.case_scope(system)
    assert visibility.case_visible(ss, {"grid": "WH-01"}, visibility.Links(systems=frozenset({None, "yss"})))
    assert not visibility.case_visible(ss, {"grid": "WH-01"}, visibility.Links(systems=frozenset({"other"})))
    assert not visibility.case_visible(visibility.case_scope(nobody), {"grid": "WH-01", "reporter": {"id": "p"}})


def test_departments_see_the_cases_they_hold_or_held_an_order_on_and_mediators_theirs():
    officer = Principal(sub="o", roles=["department_officer"], department="RSS")
    dept_key = Principal(sub="k", kind="api_key", roles=["department_system"], department="RSS")
    mediator = Principal(sub="m", roles=["mediator"], mediator_id="med-1")
    case = {"grid": "WH-01"}
    held = visibility.Links(departments=frozenset({"RSS", "PCS"}), mediators=frozenset({"med-1"}))
    for p in (officer, dept_key):
        s = visibility.case_scope(p)
        assert not s.everything and s.department == "RSS"
        assert visibility.case_visible(s, case, held)
        assert not visibility.case_visible(s, case, visibility.Links(departments=frozenset({"PCS"})))
        assert not visibility.case_visible(s, case)
    s = visibility.case_scope(mediator)
    assert s.mediator == "med-1" and visibility.case_visible(s, case, held)
    assert not visibility.case_visible(s, case, visibility.Links(mediators=frozenset({"med-2"})))
    # no department / mediator id on the identity: nothing
    assert not visibility.case_visible(visibility.case_scope(Principal(sub="x", roles=["department_officer"])),
                                       case, held)
    assert not visibility.case_visible(visibility.case_scope(Principal(sub="x", roles=["mediator"])), case, held)
    for role in ("dispatcher", "leader", "admin"):
        assert visibility.case_scope(Principal(sub="x", roles=[role])).everything  # their area: the street


def test_reader_links_from_consumed_events():
    assert visibility.reader_links({"order_id": "o1", "department": "RSS"}) == ("RSS", None)
    assert visibility.reader_links({"mediation_id": "m", "mediator_id": "med-1"}) == (None, "med-1")
    assert visibility.reader_links({"departments": ["RSS"], "case_id": "c"}) == (None, None)
    assert visibility.reader_links({"department": "RSS"}) == (None, None)  # not about an order


def test_signal_scope_and_webhook_owner():
    worker = Principal(sub="w1", roles=["grid_worker"], grids=["WH-01"])
    s = visibility.signal_scope(worker)
    assert visibility.signal_visible(s, {"grid": "WH-01", "reported_by": "x"})
    assert visibility.signal_visible(s, {"grid": "WH-05", "reported_by": "w1"})
    assert not visibility.signal_visible(s, {"grid": "WH-05", "reported_by": "x"})
    assert visibility.webhook_owner(Principal(sub="a", roles=["admin"])) is None
    assert visibility.webhook_owner(Principal(sub="k", roles=["external_system"], external_system="yss")) == "yss"
    assert visibility.may_report_in(worker, "WH-01") and not visibility.may_report_in(worker, "WH-02")
    assert visibility.may_report_in(Principal(sub="d", roles=["dispatcher"]), "WH-02")


def test_idempotency_replay_decision():
    idempotency.replay("h", "h")
    with pytest.raises(Conflict) as err:
        idempotency.replay("h", "other", case_no="C-1")
    assert err.value.code == "idempotency_key_reused" and err.value.extra == {"case_no": "C-1"}


def test_the_nearest_candidate_within_the_radius_wins():
    lat, lon = 22.3, 113.0
    cands = [{"id": "far", "lat": lat + 0.01, "lon": lon}, {"id": "near", "lat": lat + 0.001, "lon": lon},
             {"id": "nearer", "lat": lat + 0.0005, "lon": lon}]
    assert duplicates.nearest(lat, lon, cands, 300) == "nearer"
    assert duplicates.nearest(lat, lon, cands[:1], 300) is None
    (lo, hi), _ = duplicates.search_box(lat, lon, 300)
    assert lo < lat + 0.001 < hi and not lo < lat + 0.01 < hi
    assert duplicates.window_start(T0, 72) == T0 - timedelta(hours=72)


def test_status_recompute_reports_only_changes():
    entries = [(T0, 1, "dispatched"), (T0 + timedelta(seconds=1), 2, "on_site")]
    assert status.recompute("reported", entries) == "on_site"
    assert status.recompute("on_site", entries) is None
    text, detail = status.event_detail({"department_name": "人社所", "department": "RSS", "reason": "r",
                                        "order_id": "o", "phone": "13800000000"})
    assert text == "人社所 · r" and detail == {"department": "RSS", "reason": "r", "order_id": "o"}


def test_retry_decision_and_the_notification_body():
    p = RetryPolicy(max_attempts=3, backoff_base=10, backoff_max=15)
    assert after_attempt(1, ok=True, hook_active=True, policy=p, now=T0) == {"status": "succeeded", "delivered_at": T0}
    assert after_attempt(1, ok=False, hook_active=True, policy=p, now=T0) == {"next_attempt_at": T0 + timedelta(seconds=10)}
    assert after_attempt(2, ok=False, hook_active=True, policy=p, now=T0) == {"next_attempt_at": T0 + timedelta(seconds=15)}
    assert after_attempt(3, ok=False, hook_active=True, policy=p, now=T0) == {"status": "failed"}
    assert after_attempt(1, ok=False, hook_active=False, policy=p, now=T0) == {"status": "failed"}
    body = status_changed_body("n1", {"id": "c", "case_no": "C-1"}, "resolved", "merged", at=T0, note="x",
                               merged_into_case_no="C-0")
    assert body == ('{"id":"n1","type":"case.status_changed","case_id":"c","case_no":"C-1","status":"merged",'
                    '"previous_status":"resolved","open311_status":"closed","at":"2026-03-01T00:00:00Z",'
                    '"note":"x","merged_into_case_no":"C-0"}')
