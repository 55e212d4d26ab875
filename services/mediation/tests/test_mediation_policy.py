"""The pure rules moved out of the use cases: authorization predicates, list scopes, slot reasons, the query
window, court application and callback rules, due reminders."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Forbidden, Invalid
from fengqiao_mediation.domain import court, policy, rules
from fengqiao_mediation.domain.matcher import Request
from fengqiao_mediation.domain.schedule import Interval
from fengqiao_mediation.domain.slots import check_window, slot_problems

MED = {"id": "X", "mediator_id": "M1", "external_system": "portal", "status": rules.BOOKED}
P = {
    "admin": Principal(sub="a", roles=["admin"]), "dispatcher": Principal(sub="d", roles=["dispatcher"]),
    "leader": Principal(sub="l", roles=["leader"]), "own_mediator": Principal(sub="m", roles=["mediator"],
                                                                             mediator_id="M1"),
    "other_mediator": Principal(sub="m2", roles=["mediator"], mediator_id="M2"),
    "party": Principal(sub="p", roles=["party"], party_id="P1"), "stranger": Principal(sub="p2", roles=["party"],
                                                                                       party_id="P9"),
    "system": Principal(sub="k", kind="api_key", roles=["external_system"], external_system="portal"),
    "other_system": Principal(sub="k2", kind="api_key", roles=["external_system"], external_system="other"),
}


def allowed(fn, *args) -> set[str]:
    out = set()
    for name, p in P.items():
        try:
            fn(p, *args)
            out.add(name)
        except Forbidden:
            pass
    return out


def test_who_may_view_manage_record_and_sign():
    assert allowed(policy.authorize_view, MED, ["P1"]) == {"admin", "dispatcher", "leader", "own_mediator", "party",
                                                          "system"}
    assert allowed(policy.authorize_manage, MED) == {"admin", "dispatcher", "own_mediator", "system"}
    assert allowed(policy.authorize_mediator, MED) == {"admin", "own_mediator"}
    assert allowed(policy.authorize_court_application, MED) == {"admin", "dispatcher", "own_mediator"}
    assert allowed(policy.authorize_otp_request, MED, "P1") == {"party", "own_mediator"}
    assert allowed(policy.authorize_mediator_signature, MED) == {"own_mediator"}
    assert allowed(policy.authorize_new_booking) == {"admin", "dispatcher", "system", "other_system"}
    assert allowed(policy.may_manage_mediator, "M1") == {"admin", "own_mediator"}
    assert allowed(policy.may_see_calendar, "M1") == {"admin", "dispatcher", "own_mediator"}
    assert policy.private(P["own_mediator"], "M1") and not policy.private(P["dispatcher"], "M1")


def test_a_party_signs_only_through_its_own_channel():
    def channels(method: str) -> dict:
        out = {}
        for name, p in {**P, "anonymous": None}.items():
            try:
                out[name] = policy.party_channel(p, MED, "P1", method)
            except Forbidden as exc:
                assert exc.code in ("not_own_channel", "forbidden")
        return out

    assert channels("image") == {"party": "login"}  # the mediator, an admin, another party: refused
    assert channels("otp") == {"party": "otp", "anonymous": "otp"}  # the code is the credential, never the mediator
    assert channels("in_person") == {"own_mediator": "in_person"}
    with pytest.raises(Forbidden) as exc:
        policy.party_channel(P["own_mediator"], MED, "P1", "image")
    assert exc.value.code == "not_own_channel"


def test_list_scopes():
    assert policy.list_scope(P["leader"]) == policy.ListScope("all")
    assert policy.list_scope(P["own_mediator"]) == policy.ListScope("mediator", "M1")
    assert policy.list_scope(P["party"]) == policy.ListScope("party", "P1")
    assert policy.list_scope(P["system"]) == policy.ListScope("external_system", "portal")
    with pytest.raises(Forbidden):
        policy.list_scope(Principal(sub="g", roles=["grid_worker"]))


def test_slot_problems_and_the_window():
    tz = ZoneInfo("Asia/Shanghai")
    m = {"id": "M1", "name": "x", "kind": "k", "gender": "female", "categories": ["labour"], "dialects": [],
         "capacity": 1, "outreach": False, "active": True, "relations": [{"name": "某厂"}],
         "weekly": [{"weekday": 0, "start": "09:00", "end": "12:00"}]}
    mon10 = Interval(datetime(2026, 1, 5, 10, tzinfo=tz), datetime(2026, 1, 5, 11, tzinfo=tz))
    now = datetime(2026, 1, 4, tzinfo=UTC)
    req = Request(category="labour", mode="centre")
    assert slot_problems(m, req, mon10, load=0, busy=[], now=now, tz=tz) == []
    req2 = Request(category="family", mode="home", party_names=("某厂",))
    codes = [w["code"] for w in slot_problems(m, req2, mon10, load=1, busy=[mon10], now=mon10.start, tz=tz)]
    assert codes == ["category", "conflict_of_interest", "full", "no_outreach", "past", "taken"]
    holder = Request(category="labour", include_mediation_load="M1")
    assert slot_problems(m, holder, mon10, load=1, busy=[], now=now, tz=tz) == []
    with pytest.raises(Invalid):
        check_window(now, now, 31)
    with pytest.raises(Invalid) as exc:
        check_window(now, now + timedelta(days=32), 31)
    assert exc.value.fields[0]["code"] == "window_too_long"


def test_court_rules():
    now = datetime(2026, 2, 1, tzinfo=UTC)
    agr = {"apply_by": now + timedelta(days=1)}
    court.check_can_apply({"status": rules.AGREED}, agr, now)
    for med, a, code in [({"status": rules.AGREED}, None, "no_agreement"),
                         ({"status": rules.APPLIED}, agr, "cannot_apply"),
                         ({"status": rules.REJECTED}, {"apply_by": now - timedelta(seconds=1)}, "deadline_passed")]:
        with pytest.raises(Conflict) as exc:
            court.check_can_apply(med, a, now)
        assert exc.value.code == code
    app = {"status": "submitted", "ruling_no": None}
    court.check_callback(app, "more_material")
    with pytest.raises(Conflict):
        court.check_callback({"status": "material_requested"}, "more_material")
    assert court.is_duplicate_callback({"status": "confirmed", "ruling_no": "R1"}, "confirmed", "R1")
    assert not court.is_duplicate_callback({"status": "confirmed", "ruling_no": "R1"}, "confirmed", "R2")


def test_the_most_urgent_reminder_due():
    due = datetime(2026, 3, 1, tzinfo=UTC)
    assert court.reminder_due(due, (7, 1), due - timedelta(days=8)) is None
    assert court.reminder_due(due, (7, 1), due - timedelta(days=7)).kind == "judicial_apply_7d"
    assert court.reminder_due(due, (1, 7), due - timedelta(hours=3)).kind == "judicial_apply_1d"
    late = court.reminder_due(due, (7, 1), due)
    assert (late.kind, late.overdue) == ("judicial_apply_overdue", True)
