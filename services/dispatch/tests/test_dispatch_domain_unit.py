"""Pure domain logic: time limits with the Chinese working calendar, timers, rules, the state machine."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import REPO_ROOT
from fengqiao_dispatch.domain import orders as om
from fengqiao_dispatch.domain import timers as tm
from fengqiao_dispatch.domain.rules import (
    CaseFacts,
    RuleBody,
    StoredRule,
    choose,
    seed_rules,
    validate_against,
)
from fengqiao_dispatch.domain.timelimits import add_limit, add_working_days, deadlines_for, is_workday
from pydantic import ValidationError

SH = ZoneInfo("Asia/Shanghai")
J = load(str(REPO_ROOT / "data" / "waihai.yaml"))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_calendar_knows_holidays_and_make_up_workdays():
    assert not is_workday(local(2026, 10, 1).date())  # National Day (a Thursday)
    assert is_workday(local(2026, 10, 10).date())  # a Saturday made a workday
    assert not is_workday(local(2026, 10, 3).date())  # plain Saturday inside the holiday
    assert is_workday(local(2026, 9, 30).date())


def test_working_days_skip_the_national_day_holiday_and_count_the_make_up_saturday():
    # Wednesday 30 Sep 2026 15:00; 1 Oct - 7 Oct off (8 Oct is a Thursday workday), Sat 10 Oct a workday.
    start = local(2026, 9, 30, 15, 0)
    assert add_working_days(start, 1) == local(2026, 10, 8, 15, 0)
    assert add_working_days(start, 2) == local(2026, 10, 9, 15, 0)
    assert add_working_days(start, 3) == local(2026, 10, 10, 15, 0)  # the make-up Saturday counts
    assert add_working_days(start, 4) == local(2026, 10, 12, 15, 0)  # Sunday 11 Oct does not
    # a plain weekend: Friday + 1 working day = Monday
    assert add_working_days(local(2026, 9, 11, 9, 30), 1) == local(2026, 9, 14, 9, 30)
    # the answer keeps the caller's time zone
    utc = add_working_days(start.astimezone(UTC), 1)
    assert utc.tzinfo == UTC and utc == local(2026, 10, 8, 15, 0)


def test_limits_by_unit_and_calendar():
    start = local(2026, 9, 30, 15, 0)
    assert add_limit(start, "15m") == start + timedelta(minutes=15)
    assert add_limit(start, "24h") == start + timedelta(hours=24)  # hours are elapsed time even over a holiday
    assert add_limit(start, "3d", "natural") == start + timedelta(days=3)
    assert add_limit(start, "1d", "working") == local(2026, 10, 8, 15, 0)
    assert add_limit(start, "7wd", "natural") == add_working_days(start, 7)


def test_grade_deadlines_from_the_jurisdiction():
    start = local(2026, 9, 30, 15, 0)
    red = deadlines_for(J.grade("red"), start)
    assert (red.sign_for_by - start, red.on_site_by - start, red.resolve_by - start) == (
        timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=24))
    yellow = deadlines_for(J.grade("yellow"), start)
    assert yellow.sign_for_by == start + timedelta(hours=4)
    assert yellow.on_site_by == local(2026, 10, 8, 15, 0)
    # 7 working days from 30 Sep: 8, 9, 10 (Sat, make-up), 12, 13, 14, 15 Oct
    assert yellow.resolve_by == local(2026, 10, 15, 15, 0)
    assert deadlines_for(J.grade("blue"), start, on_site_required=False).on_site_by is None


def test_timer_plan_reminds_before_and_escalates_after():
    start = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    plan = tm.plan("sign_for", start, start + timedelta(minutes=15))
    due = {p.kind: p.due_at - start for p in plan}
    assert due == {tm.REMIND: timedelta(minutes=12), tm.OVERDUE: timedelta(minutes=15),
                   tm.ESCALATE_STREET: timedelta(minutes=22, seconds=30), tm.ESCALATE_DISTRICT: timedelta(minutes=30)}
    assert tm.still_due("sign_for", "dispatched")
    assert not tm.still_due("sign_for", "signed")
    assert tm.still_due("on_site", "signed")
    assert not tm.still_due("resolve", "returned")


def test_state_machine():
    assert om.next_status("sign_for", "dispatched") == "signed"
    with pytest.raises(om.TransitionError) as e:
        om.next_status("check_in", "dispatched")
    assert e.value.status == "dispatched" and "报到" in e.value.zh
    with pytest.raises(om.TransitionError):
        om.next_status("resolve", "signed")  # on site first
    assert om.next_status("resolve", "signed", on_site_required=False) == "resolved"
    for action in ("sign_for", "check_in", "progress", "resolve", "return"):
        with pytest.raises(om.TransitionError):
            om.next_status(action, "returned")
        with pytest.raises(om.TransitionError):
            om.next_status(action, "verified")
    with pytest.raises(om.TransitionError):
        om.next_status("verify", "in_progress")


def test_joint_case_resolves_only_when_lead_and_every_assist_are_done():
    assert not om.case_resolved([("lead", "resolved"), ("assist", "in_progress")])
    assert not om.case_resolved([("lead", "in_progress"), ("assist", "resolved")])
    assert om.case_resolved([("lead", "resolved"), ("assist", "resolved")])
    assert om.case_resolved([("lead", "verified"), ("assist", "resolved"), ("assist", "returned")])
    assert not om.case_resolved([("lead", "returned"), ("assist", "resolved")])
    assert not om.case_closed([("lead", "verified"), ("assist", "resolved")])
    assert om.case_closed([("lead", "verified"), ("assist", "verified"), ("lead", "returned")])


def facts(**kw) -> CaseFacts:
    base = dict(category="labour", grade="yellow", grid="WH-03", community="C03", people_involved=2,
                summary="劳资纠纷", description="工资结算有争议", keywords=[])
    base.update(kw)
    return CaseFacts.of(**base)


def seeded() -> list[StoredRule]:
    return [StoredRule(rid, 1, body) for rid, body in seed_rules(J)]


def test_seed_routes_the_wage_dispute_to_the_district_court_and_hr_bureau():
    rules = seeded()
    for f in (facts(grade="red"), facts(people_involved=40), facts(description="公司欠薪三个月，工人在厂门口")):
        r = choose(rules, f)
        assert r.rule_id == "labour-wage-arrears"
        assert {r.body.lead, *r.body.assist} == {"QFY", "QRSJ"} and r.body.on_site_required
        assert all(J.department(d).level == "district" for d in (r.body.lead, *r.body.assist))
    ordinary = choose(rules, facts())
    assert ordinary.rule_id == "default-labour" and ordinary.body.lead == "RSS"
    assert choose(rules, facts(category="traffic")) is None  # no domain rule: manual queue


def test_rule_conditions_area_all_and_any():
    body = RuleBody(name="x", domain="urban", areas=["C02"], grades=["red", "orange"], min_people=5, lead="ZFB")
    assert choose([StoredRule("a", 1, body)], facts(category="urban", community="C02", grade="red", people_involved=5))
    assert not choose([StoredRule("a", 1, body)], facts(category="urban", community="C02", grade="red"))
    assert not choose([StoredRule("a", 1, body)], facts(category="urban", community="C03", grade="red",
                                                      people_involved=9))
    disabled = body.model_copy(update={"enabled": False})
    assert not choose([StoredRule("a", 1, disabled)], facts(category="urban", community="C02", grade="red",
                                                            people_involved=9))


def test_rule_validation_messages():
    with pytest.raises(ValidationError) as e:
        RuleBody(name="x", domain="labour", lead="RSS", assist=["RSS"])
    assert "牵头部门" in str(e.value)
    with pytest.raises(ValidationError):
        RuleBody(name="x", domain="labour", lead="RSS", grades=["purple"])
    errs = validate_against(RuleBody(name="x", domain="nope", lead="ZZZX", assist=["XX"], areas=["WH-99"]), J)
    assert {e["field"] for e in errs} == {"domain", "lead", "assist.0", "areas.0"}
    assert all(e["message_zh"] and e["message_en"] for e in errs)
    assert validate_against(RuleBody(name="ok", domain="labour", lead="RSS", areas=["WH-01", "C02"]), J) == []
