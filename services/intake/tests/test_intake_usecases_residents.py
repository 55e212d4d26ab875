"""Residents on fakes: the acceptance / on-site / result / rating messages (outbox rows, quiet hours,
opt-out, one send per key), the follow-up workflow and the public case page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fengqiao_common.errors import Conflict, NotFound
from fengqiao_common.sms import SendResult, SmsSimulator
from fengqiao_events.payloads.case import CaseRated, CaseReopened
from fengqiao_events.payloads.order import CaseClosed, CaseResolved, DepartmentCheckedIn, OrderVerified
from fengqiao_intake.domain import notifications as rules
from fengqiao_intake.schemas import PartyIn
from fengqiao_intake.usecases import followups, public
from fengqiao_intake.usecases.followups import Answer, FollowUpPolicy, consequences
from fengqiao_intake.usecases.notifications import SmsPump, policy_of
from fengqiao_intake.usecases.status import record_event
from intake_usecase_kit import DISPATCHER, envelope, grid_body, new_case, settings, world

PHONE = "13812345678"
POLICY = FollowUpPolicy(days=3, max_reopens=1)


def _after():
    return consequences(policy_of(settings()), POLICY)


async def _accepted(uow, c, **body):
    case = await new_case(uow, c, body=grid_body(**body) if body else None)
    [sms] = uow.db.sms.values()
    return case, sms


async def _event(uow, payload):
    return await record_event(uow, envelope(payload), payload, after=_after())


async def _resolved(uow, case):
    at = uow.clock.advance(timedelta(seconds=5))
    await _event(uow, OrderVerified(order_id="o1", case_id=case["id"], department="RSS", at=at))
    await _event(uow, CaseResolved(case_id=case["id"], at=at + timedelta(seconds=1)))
    uow.clock.advance(timedelta(seconds=5))


async def test_acceptance_queues_the_number_and_a_code_to_the_requester_only():
    uow, c, _ = world()
    body = {"parties": [PartyIn(name="张三丰", phone="+8613812345678", role="requester"),
                        PartyIn(name="李四", phone="13900000000", role="respondent")]}
    case, sms = await _accepted(uow, c, **body)
    assert sms["template"] == "accepted" and sms["phone"] == PHONE and sms["status"] == "pending"
    assert set(sms["params"]) == {"case_no", "code"} and sms["params"]["case_no"] == case["case_no"]
    assert sms["send_key"] == f"accepted:{case['id']}"
    stored = uow.db.cases[case["id"]]["query_code_hash"]
    assert rules.code_matches(case["case_no"], sms["params"]["code"], stored)
    assert sms["params"]["code"] not in stored


async def test_no_requester_mobile_no_message():
    uow, c, _ = world()
    await new_case(uow, c, body=grid_body(parties=[PartyIn(name="王五", phone="13900000000", role="respondent")]))
    assert uow.db.sms == {}


async def test_on_site_result_and_rating_messages_once_each_with_a_follow_up_task():
    uow, c, _ = world()
    case, _ = await _accepted(uow, c)
    checked = DepartmentCheckedIn(order_id="o1", case_id=case["id"], department="RSS", officer="x", at=uow.now())
    env = envelope(checked)
    assert await record_event(uow, env, checked, after=_after())
    assert not await record_event(uow, env, checked, after=_after())  # re-delivered: nothing new
    await _resolved(uow, case)
    await _event(uow, CaseClosed(case_id=case["id"], at=uow.now()))
    assert sorted(s["template"] for s in uow.db.sms.values()) == ["accepted", "on_site", "rating_ask", "result"]
    assert all(set(s["params"]) == {"case_no"} for s in uow.db.sms.values() if s["template"] != "accepted")
    [task] = uow.db.follow_ups.values()
    assert task["status"] == "open" and task["cycle"] == 0
    assert task["due_at"] - task["created_at"] == timedelta(days=3)


def test_quiet_hours_hold_until_morning():
    tz = rules.ZoneInfo("Asia/Shanghai")
    night = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # 22:30 local
    assert rules.release_at(night, tz, "21:00", "08:00") == datetime(2026, 1, 6, 8, 0, tzinfo=tz)
    early = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)  # 06:00 local next day
    assert rules.release_at(early, tz, "21:00", "08:00") == datetime(2026, 1, 6, 8, 0, tzinfo=tz)
    day = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 12:00 local
    assert rules.release_at(day, tz, "21:00", "08:00") == day


async def test_pump_sends_once_after_quiet_hours_and_forgets_the_phone_and_code():
    uow, c, _ = world()
    uow.clock.set(datetime(2026, 1, 5, 14, 30, tzinfo=UTC))  # 22:30 in Shanghai
    case, sms = await _accepted(uow, c)
    sim = SmsSimulator()
    pump = SmsPump(lambda: uow, sim, policy_of(settings()), clock=uow.clock)
    assert await pump.step() == 0 and sim.sent == type(sim.sent)()  # held
    uow.clock.set(datetime(2026, 1, 6, 0, 1, tzinfo=UTC))  # 08:01
    assert await pump.step() == 1 and await pump.step() == 0
    [msg] = sim.sent
    assert msg.phone == PHONE and case["case_no"] in msg.text and msg.out_id == sms["send_key"]
    row = uow.db.sms[sms["id"]]
    assert row["status"] == "sent" and row["phone"] is None and "code" not in row["params"]


async def test_opted_out_requester_gets_nothing_and_retryable_failures_wait():
    uow, c, _ = world()
    case, sms = await _accepted(uow, c)
    code = sms["params"]["code"]
    await public.public_opt_out(uow, case["case_no"], code, key=settings().requester_key_bytes)
    sim = SmsSimulator()
    await SmsPump(lambda: uow, sim, policy_of(settings()), clock=uow.clock).step()
    assert not sim.sent and uow.db.sms[sms["id"]]["status"] == "opted_out"

    uow2, c2, _ = world()
    _, sms2 = await _accepted(uow2, c2)

    class Throttled:
        async def send(self, *a, **kw):
            return SendResult(False, code="isv.BUSINESS_LIMIT_CONTROL", retryable=True)

    await SmsPump(lambda: uow2, Throttled(), policy_of(settings()), clock=uow2.clock).step()
    row = uow2.db.sms[sms2["id"]]
    assert row["status"] == "pending" and row["attempts"] == 1 and row["not_before"] > uow2.now()


async def test_public_page_shows_plain_progress_without_personal_data():
    uow, c, _ = world()
    case, sms = await _accepted(uow, c)
    view = await public.public_case(uow, case["case_no"], sms["params"]["code"])
    assert view["status_text"] == "已受理" and [s["text"] for s in view["steps"]] == ["已受理"]
    text = repr(view)
    assert "张三丰" not in text and PHONE not in text and "噪音" not in text and "外海大道" not in text
    with pytest.raises(NotFound):
        await public.public_case(uow, case["case_no"], "00000000")
    with pytest.raises(NotFound):
        await public.public_case(uow, "WH-NOPE", sms["params"]["code"])


async def test_public_unsolved_answer_reopens_then_goes_to_the_leader():
    uow, c, _ = world()
    case, sms = await _accepted(uow, c)
    code = sms["params"]["code"]
    with pytest.raises(Conflict):  # not resolved yet
        await public.public_rate(uow, case["case_no"], code, Answer("satisfied"), policy=POLICY)
    await _resolved(uow, case)
    view = await public.public_rate(uow, case["case_no"], code, Answer("basically_satisfied", solved=False),
                                    policy=POLICY)
    assert view["status"] == "reopened"
    rated = uow.events_of(CaseRated)[-1]
    assert rated.solved is False and rated.channel == "public_page" and rated.rating == "basically_satisfied"
    assert uow.events_of(CaseReopened)
    # second cycle: resolved again, unsatisfied again -> the leader, no second reopening (max_reopens=1)
    await _resolved(uow, case)
    await public.public_rate(uow, case["case_no"], code, Answer("unsatisfied", solved=False), policy=POLICY)
    assert len(uow.events_of(CaseReopened)) == 1
    items, total = await followups.list_tasks(uow, DISPATCHER, status=None, to_leader=True, limit=10, offset=0)
    assert total == 1 and items[0]["cycle"] == 1 and items[0]["rating"] == "unsatisfied"
    assert uow.db.timeline[-1]["kind"] == "follow_up.to_leader"


async def test_the_centre_records_a_call_on_the_list():
    uow, c, _ = world()
    case, _ = await _accepted(uow, c)
    await _resolved(uow, case)
    items, total = await followups.list_tasks(uow, DISPATCHER, status="open", to_leader=None, limit=10, offset=0)
    assert total == 1 and items[0]["case_no"] == case["case_no"]
    done = await followups.record_outcome(uow, DISPATCHER, items[0]["id"], Answer("satisfied", solved=True),
                                          policy=POLICY)
    assert done["status"] == "done" and done["channel"] == "call" and done["solved"] is True
    assert uow.events_of(CaseRated)[-1].solved is True and not uow.events_of(CaseReopened)
    with pytest.raises(Conflict):
        await followups.record_outcome(uow, DISPATCHER, items[0]["id"], Answer("satisfied"), policy=POLICY)


def test_lookup_limiter_counts_failures_in_a_window():
    from fengqiao_common.clock import ManualClock

    clock = ManualClock()
    lim = public.LookupLimiter(2, 60, clock)
    lim.failed("case:1", "ip:a")
    assert lim.retry_after("case:1", "ip:a") is None
    lim.failed("case:1", "ip:a")
    assert lim.retry_after("case:1") is not None and lim.retry_after("ip:b") is None
    clock.advance(timedelta(seconds=61))
    assert lim.retry_after("case:1", "ip:a") is None
