"""Session-record use cases on the fakes: record, one-time codes, signing (wrong signer, wrong code, twice),
sealing into the hash chain, verifying it, the agreement."""

import re
from datetime import timedelta

import pytest
from fengqiao_common.errors import Conflict, Forbidden, Invalid
from fengqiao_events.payloads.mediation import AgreementGenerated, SessionSealed
from fengqiao_mediation.domain import records, rules
from fengqiao_mediation.domain.signing import TooManyCodes
from fengqiao_mediation.usecases import agreements, mediations, sessions
from fengqiao_mediation.usecases import records as records_uc
from fengqiao_mediation.usecases.commands import SessionIn, SignatureIn
from mediation_fakes import FakeMediationUoW, FakeSms, fake_render
from mediation_world import (
    DISPATCHER,
    LEADER,
    add_mediator,
    agreed,
    book,
    image,
    local,
    mediator_p,
    party_p,
    recorded,
    sealed,
)


def otp(party_id: str, code: str) -> SignatureIn:
    return SignatureIn(signer="party", party_id=party_id, method="otp", code=code)


async def test_record_a_session_moves_the_mediation_in_progress():
    uow = FakeMediationUoW()
    k = await recorded(uow)
    s = uow.db.sessions[k["sid"]]
    assert (s["seq"], s["status"]) == (1, "open")
    assert uow.db.mediations[k["med"]]["status"] == rules.IN_PROGRESS
    view = await sessions.get_session(uow, party_p(k["a"]), k["sid"])
    assert view["pending_signers"] == sorted({"mediator:M1", f"party:{k['a']}", f"party:{k['b']}"})


async def test_only_the_mediator_in_charge_records_and_only_when_booked():
    uow = FakeMediationUoW()
    await add_mediator(uow, "M1")
    b = await book(uow)
    body = SessionIn.model_validate({"started_at": local(uow, 2, 10).isoformat(),
                                     "ended_at": local(uow, 2, 11).isoformat(), "place": "室", "attendees": ["甲"],
                                     "points_agreed": ["x"]})
    with pytest.raises(Forbidden):
        await sessions.create_session(uow, mediator_p("M2"), b["mediation"]["id"], body)
    with pytest.raises(Invalid) as exc:
        await sessions.create_session(uow, mediator_p("M1"), b["mediation"]["id"],
                                      body.model_copy(update={"booking_id": "other"}))
    assert exc.value.fields[0]["code"] == "unknown_booking"
    uow.db.mediations[b["mediation"]["id"]]["status"] = rules.OPEN
    with pytest.raises(Conflict) as exc:
        await sessions.create_session(uow, mediator_p("M1"), b["mediation"]["id"], body)
    assert exc.value.code == "not_recordable"


async def test_otp_is_texted_masked_and_rate_limited():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await recorded(uow)
    out = await sessions.request_otp(uow, party_p(k["a"]), k["sid"], k["a"], sms=sms)
    assert out["sent_to"] == "138****0001" and out["expires_at"] == uow.now() + timedelta(minutes=10)
    [(phone, text, purpose, ref)] = sms.sent
    assert (phone, purpose, ref) == ("13800000001", "otp", k["sid"]) and re.search(r"验证码 \d{6}", text)
    assert uow.db.otps[out["otp_id"]]["code_hash"] not in text
    for _ in range(2):
        await sessions.request_otp(uow, mediator_p("M1"), k["sid"], k["a"], sms=sms)  # assisted
    with pytest.raises(TooManyCodes):
        await sessions.request_otp(uow, party_p(k["a"]), k["sid"], k["a"], sms=sms)
    uow.clock.advance(timedelta(minutes=11))
    await sessions.request_otp(uow, party_p(k["a"]), k["sid"], k["a"], sms=sms)
    assert len(sms.sent) == 4
    with pytest.raises(Forbidden):
        await sessions.request_otp(uow, party_p(k["b"]), k["sid"], k["a"], sms=sms)


async def test_sign_with_the_code_and_a_wrong_code_counts_an_attempt():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await recorded(uow)
    out = await sessions.request_otp(uow, party_p(k["a"]), k["sid"], k["a"], sms=sms)
    code = re.search(r"验证码 (\d{6})", sms.sent[0][1]).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(Invalid) as exc:
        await sessions.sign(uow, party_p(k["a"]), k["sid"], otp(k["a"], wrong))
    assert exc.value.fields[0]["code"] == "code_mismatch"
    assert uow.db.otps[out["otp_id"]]["attempts"] == 1  # committed although refused
    assert uow.db.signatures == []
    signed = await sessions.sign(uow, party_p(k["a"]), k["sid"], otp(k["a"], code))
    assert signed["sealed_now"] is False and [s["method"] for s in signed["signatures"]] == ["otp"]
    assert uow.db.otps[out["otp_id"]]["used_at"] == uow.now()
    with pytest.raises(Conflict) as exc:
        await sessions.sign(uow, party_p(k["a"]), k["sid"], otp(k["a"], code))
    assert exc.value.code == "already_signed"


async def test_an_expired_code_is_refused():
    uow, sms = FakeMediationUoW(), FakeSms()
    k = await recorded(uow)
    await sessions.request_otp(uow, party_p(k["b"]), k["sid"], k["b"], sms=sms)
    code = re.search(r"验证码 (\d{6})", sms.sent[0][1]).group(1)
    uow.clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(Invalid) as exc:
        await sessions.sign(uow, party_p(k["b"]), k["sid"], otp(k["b"], code))
    assert exc.value.fields[0]["code"] == "code_expired"


async def test_the_wrong_signer_is_refused():
    uow = FakeMediationUoW()
    k = await recorded(uow)
    with pytest.raises(Forbidden):  # a party signing for the other party
        await sessions.sign(uow, party_p(k["a"]), k["sid"], image("party", k["b"]))
    with pytest.raises(Forbidden):  # a party signing as the mediator
        await sessions.sign(uow, party_p(k["a"]), k["sid"], image("mediator"))
    with pytest.raises(Forbidden):  # another mediator
        await sessions.sign(uow, mediator_p("M2"), k["sid"], image("mediator"))
    with pytest.raises(Invalid):  # not a party of this mediation
        await sessions.sign(uow, mediator_p("M1"), k["sid"], image("party", "stranger"))
    with pytest.raises(Invalid) as exc:
        await sessions.sign(uow, party_p(k["a"]), k["sid"], SignatureIn(
            signer="party", party_id=k["a"], method="image", image_base64="bm90IGFuIGltYWdl"))
    assert exc.value.fields[0]["code"] == "bad_image"
    assert uow.db.signatures == [] and [type(e).__name__ for e in uow.committed_events] == ["MediationBooked"]


async def test_the_last_signature_seals_the_record_into_the_chain():
    uow = FakeMediationUoW()
    k = await sealed(uow)
    s = uow.db.sessions[k["sid"]]
    assert (s["status"], s["chain_index"], s["prev_hash"], s["sealed_at"]) == ("sealed", 0, records.GENESIS,
                                                                              uow.now())
    sigs = [x for x in uow.db.signatures if x["session_id"] == k["sid"]]
    assert s["record_hash"] == records.record_hash(s, sigs, records.GENESIS)
    [ev] = uow.events_of(SessionSealed)
    assert (ev.session_id, ev.record_hash, ev.points_agreed, ev.points_outstanding) == (k["sid"], s["record_hash"],
                                                                                       1, 0)
    with pytest.raises(Conflict) as exc:
        await sessions.sign(uow, party_p(k["a"]), k["sid"], image("party", k["a"]))
    assert exc.value.code == "record_sealed"


async def test_verify_the_chain_and_see_tampering():
    uow = FakeMediationUoW()
    k = await agreed(uow)
    out = await records_uc.verify_records(uow, party_p(k["a"]), k["med"])
    assert out["valid"] is True and out["records"][0]["valid"] and out["agreement"]["valid"]
    assert out["head"] == uow.db.sessions[k["sid"]]["record_hash"]
    uow.db.sessions[k["sid"]]["points_agreed"] = ["按月结算工资", "另付十万"]
    out = await records_uc.verify_records(uow, LEADER, k["med"])
    assert out["valid"] is False and out["records"][0]["problems"]
    with pytest.raises(Forbidden):
        await records_uc.verify_records(uow, party_p("stranger"), k["med"])


async def test_the_agreement_from_sealed_records():
    uow = FakeMediationUoW()
    k = await agreed(uow)
    a = k["agreement"]
    stored = uow.db.agreements[a["id"]]
    assert stored["pdf"].startswith(b"%PDF") and a["sha256"] == records.sha256_hex(stored["pdf"])
    assert a["points"] == ["按月结算工资"] and a["apply_by"] == uow.now() + timedelta(days=30)
    assert a["chain_head"] == uow.db.sessions[k["sid"]]["record_hash"]
    assert uow.db.mediations[k["med"]]["status"] == rules.AGREED
    [ev] = uow.events_of(AgreementGenerated)
    assert (ev.agreement_id, ev.sha256) == (a["id"], a["sha256"])
    got = await agreements.get_agreement(uow, party_p(k["b"]), a["id"], with_pdf=True)
    assert got["pdf"] == stored["pdf"] and got["pdf_url"].endswith(f"/{a['id']}/pdf")
    with pytest.raises(Conflict) as exc:
        await agreements.generate_agreement(uow, mediator_p("M1"), k["med"], render=fake_render)
    assert exc.value.code == "not_ready"


async def test_no_agreement_with_outstanding_points_or_unsealed_records():
    uow = FakeMediationUoW()
    k = await sealed(uow, outstanding=("赔偿金额",))
    with pytest.raises(Conflict) as exc:
        await agreements.generate_agreement(uow, mediator_p("M1"), k["med"], render=fake_render)
    assert exc.value.code == "points_outstanding" and exc.value.extra["points_outstanding"] == ["赔偿金额"]
    uow2 = FakeMediationUoW()
    k2 = await recorded(uow2)
    with pytest.raises(Conflict) as exc:
        await agreements.generate_agreement(uow2, mediator_p("M1"), k2["med"], render=fake_render)
    assert exc.value.code == "unsealed_records"
    assert uow.events_of(AgreementGenerated) == [] and uow2.db.agreements == {}


async def test_the_mediation_view_masks_phones_for_leaders_and_lists_are_scoped():
    uow = FakeMediationUoW()
    k = await sealed(uow)
    view = await mediations.mediation_view(uow, LEADER, k["med"])
    assert [p["phone"] for p in view["parties"]] == ["138****0001", "138****0002"]
    assert view["mediator"] == {"id": "M1", "name": "调解员M1"} and view["sessions"][0]["status"] == "sealed"
    assert view["category_name"] == "劳动争议"
    own = await mediations.mediation_view(uow, party_p(k["a"]), k["med"])
    assert [p["phone"] for p in own["parties"]] == ["13800000001", "138****0002"]
    await book(uow, hour=15)  # another mediation
    assert len(await mediations.list_mediations(uow, DISPATCHER)) == 2
    assert [m["id"] for m in await mediations.list_mediations(uow, party_p(k["a"]))] == [k["med"]]
    assert await mediations.list_mediations(uow, party_p("stranger")) == []
    with pytest.raises(Forbidden):
        await mediations.mediation_view(uow, party_p("stranger"), k["med"])
