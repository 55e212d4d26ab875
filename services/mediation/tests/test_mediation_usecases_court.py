"""Judicial confirmation, failure, deadline reminders and referrals on the fakes (a fake court and SMS)."""

from datetime import UTC, datetime, timedelta

import pytest
from fengqiao_common.errors import Conflict, Forbidden, NotFound
from fengqiao_events.payloads.mediation import (
    JudicialApplied,
    JudicialMaterialRequested,
    JudicialReminded,
    MediationConfirmed,
    MediationFailed,
)
from fengqiao_events.payloads.order import MediationReferred
from fengqiao_mediation.domain import rules
from fengqiao_mediation.domain.court import CourtUnavailable
from fengqiao_mediation.usecases import court, failures, mediators, referrals, reminders
from fengqiao_mediation.usecases.commands import CourtCallback, FailureIn
from mediation_fakes import FakeCourt, FakeMediationUoW, FakeSms
from mediation_world import DISPATCHER, EXTERNAL, add_mediator, agreed, book, mediator_p, party_p


def callback(app: dict, decision: str, **kw) -> CourtCallback:
    return CourtCallback(application_id=app["id"], external_ref=app["external_ref"], decision=decision,
                         at=datetime(2026, 1, 20, tzinfo=UTC), **kw)


async def applied(uow: FakeMediationUoW, fake: FakeCourt) -> tuple[dict, dict]:
    k = await agreed(uow)
    app = await court.apply_to_court(uow, mediator_p("M1"), k["med"], court=fake)
    return k, app


async def test_apply_sends_the_agreement_and_records_the_application():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k, app = await applied(uow, fake)
    [sent] = fake.applied
    assert sent["application_id"] == app["id"] and sent["agreement"]["sha256"] == k["agreement"]["sha256"]
    assert sent["callback_url"] == "http://test/callback" and [p["name"] for p in sent["parties"]] == ["冯甲", "谭乙"]
    assert (app["status"], app["external_ref"], app["history"][0]["event"]) == ("submitted", "SQ-1", "submitted")
    assert uow.db.mediations[k["med"]]["status"] == rules.APPLIED
    [ev] = uow.events_of(JudicialApplied)
    assert ev.application_id == app["id"] and ev.deadline == k["agreement"]["apply_by"]
    with pytest.raises(Conflict) as exc:
        await court.apply_to_court(uow, DISPATCHER, k["med"], court=fake)
    assert exc.value.code == "cannot_apply"


async def test_the_court_away_records_nothing():
    uow, fake = FakeMediationUoW(), FakeCourt(fail=True)
    k = await agreed(uow)
    with pytest.raises(CourtUnavailable):
        await court.apply_to_court(uow, mediator_p("M1"), k["med"], court=fake)
    assert uow.db.applications == {} and uow.events_of(JudicialApplied) == []
    assert uow.db.mediations[k["med"]]["status"] == rules.AGREED


async def test_no_application_after_the_deadline_nor_by_an_external_system():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k = await agreed(uow)
    with pytest.raises(Forbidden):
        await court.apply_to_court(uow, EXTERNAL, k["med"], court=fake)
    uow.clock.advance(timedelta(days=31))
    with pytest.raises(Conflict) as exc:
        await court.apply_to_court(uow, mediator_p("M1"), k["med"], court=fake)
    assert exc.value.code == "deadline_passed" and fake.applied == []


async def test_more_material_then_confirmed_and_repeated_callbacks():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k, app = await applied(uow, fake)
    out = await court.court_callback(uow, callback(app, "more_material", reason="补充身份证明"))
    assert out == {"application_id": app["id"], "status": "material_requested", "duplicate": False}
    assert uow.db.mediations[k["med"]]["status"] == rules.MATERIAL_REQUESTED
    assert uow.events_of(JudicialMaterialRequested)[0].request == "补充身份证明"
    a = await court.add_material(uow, DISPATCHER, app["id"], "身份证复印件", court=fake)
    assert a["status"] == "submitted" and [h["event"] for h in a["history"]] == [
        "submitted", "more_material", "material_added"]
    assert fake.materials == [("SQ-1", {"application_id": app["id"], "description": "身份证复印件"})]
    assert uow.db.mediations[k["med"]]["status"] == rules.APPLIED
    with pytest.raises(Conflict) as exc:
        await court.add_material(uow, DISPATCHER, app["id"], "again", court=fake)
    assert exc.value.code == "no_material_requested"
    out = await court.court_callback(uow, callback(app, "confirmed", ruling_no="（2026）粤0704民特1号"))
    assert out["status"] == "confirmed" and uow.db.applications[app["id"]]["ruling_no"] == "（2026）粤0704民特1号"
    assert uow.db.mediations[k["med"]]["status"] == rules.CONFIRMED
    [ev] = uow.events_of(MediationConfirmed)
    assert ev.agreement_id == k["agreement"]["id"]
    n = len(uow.committed_events)
    again = await court.court_callback(uow, callback(app, "confirmed", ruling_no="（2026）粤0704民特1号"))
    assert again["duplicate"] is True and len(uow.committed_events) == n
    with pytest.raises(Conflict) as exc:
        await court.court_callback(uow, callback(app, "rejected", reason="x"))
    assert exc.value.code == "already_decided"
    with pytest.raises(NotFound):
        await court.court_callback(uow, callback({**app, "external_ref": "SQ-other"}, "rejected"))


async def test_rejected_then_failed_and_handed_to_litigation():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k, app = await applied(uow, fake)
    await court.court_callback(uow, callback(app, "rejected", reason="协议内容违法"))
    assert uow.db.mediations[k["med"]]["status"] == rules.REJECTED
    view = await failures.fail(uow, mediator_p("M1"), k["med"], FailureIn(handed_to="litigation", outcome="起诉"))
    assert (view["status"], view["handed_to"], view["outcome"]) == (rules.FAILED, "litigation", "起诉")
    [ev] = uow.events_of(MediationFailed)
    assert ev.handed_to == "litigation"
    with pytest.raises(Conflict) as exc:
        await failures.fail(uow, DISPATCHER, k["med"], FailureIn(handed_to="other"))
    assert exc.value.code == "cannot_fail"


async def test_failing_cancels_future_bookings_only_for_managers():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    b = await book(uow)
    with pytest.raises(Forbidden):
        await failures.fail(uow, party_p(b["parties"][0]["id"]), b["mediation"]["id"],
                            FailureIn(handed_to="arbitration"))
    await failures.fail(uow, DISPATCHER, b["mediation"]["id"], FailureIn(handed_to="arbitration"))
    booking = uow.db.bookings[b["booking"]["id"]]
    assert (booking["status"], booking["cancel_reason"]) == ("cancelled", "mediation failed")


async def test_deadline_reminders_once_each_most_urgent_first():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await agreed(uow)
    due = k["agreement"]["apply_by"]

    async def remind(at):
        uow.clock.set(at)
        return await reminders.remind_deadlines(lambda: uow, sms=sms)

    assert await remind(due - timedelta(days=10)) == 0
    assert await remind(due - timedelta(days=6)) == 1
    assert await remind(due - timedelta(days=5)) == 0
    assert await remind(due + timedelta(hours=1)) == 1
    kinds = [r["kind"] for r in await reminders.reminders_for(uow, party_p(k["a"]), k["med"])]
    assert kinds == ["judicial_apply_7d", "judicial_apply_overdue"]
    assert [e.kind for e in uow.events_of(JudicialReminded)] == kinds
    assert [(p, purpose) for p, _, purpose, _ in sms.sent] == [("13800000001", "deadline_reminder"),
                                                              ("13800000002", "deadline_reminder")] * 2
    assert "已过" in sms.sent[-1][1] and "请尽快办理" in sms.sent[0][1]
    with pytest.raises(Forbidden):
        await reminders.reminders_for(uow, party_p("stranger"), k["med"])


async def test_a_referral_opens_one_mediation_however_often_it_arrives():
    uow = FakeMediationUoW()
    ev = MediationReferred(referral_id="R-1", case_id="C-1", case_no="WH-1", category="labour",
                           summary="拖欠工资", at=uow.now())
    assert await referrals.on_referred(uow, ev) is True
    assert await referrals.on_referred(uow, ev) is False
    [med] = uow.db.mediations.values()
    assert (med["case_id"], med["source"], med["status"], med["referral_id"]) == ("C-1", "referral", rules.OPEN, "R-1")
    assert uow.committed_events == []


async def test_an_application_is_read_by_who_may_see_the_mediation():
    uow, fake = FakeMediationUoW(), FakeCourt()
    k, app = await applied(uow, fake)
    got = await court.get_application(uow, party_p(k["a"]), app["id"])
    assert (got["id"], got["status"], got["agreement_id"]) == (app["id"], "submitted", k["agreement"]["id"])
    with pytest.raises(Forbidden):
        await court.get_application(uow, party_p("stranger"), app["id"])
    with pytest.raises(NotFound):
        await court.get_application(uow, DISPATCHER, "nope")


async def test_the_demo_pool_is_seeded_once():
    uow = FakeMediationUoW()
    mix = {"deputies_and_members": 2, "public_officials": 3, "cross_river_mediators": 1}
    assert await mediators.seed_demo(uow, mix) == 6
    assert await mediators.seed_demo(uow, mix) == 0
    assert len(uow.db.mediators) == 6
    assert {c for m in uow.db.mediators.values() for c in m["categories"]} <= {"labour", "family"}
