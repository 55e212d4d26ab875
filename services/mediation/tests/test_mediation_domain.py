"""Unit tests of the pure domain: matcher ranking on a fixed roster, free slots, hash chain, demo pool."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fengqiao_mediation.adapters.sealkey import SealKeyMissing, load_keyring
from fengqiao_mediation.config import Settings
from fengqiao_mediation.domain import records, rules
from fengqiao_mediation.domain.demo import demo_mediators
from fengqiao_mediation.domain.matcher import Candidate, Request, rank
from fengqiao_mediation.domain.schedule import (
    Interval,
    WeeklyWindow,
    free_slots,
    parse_hhmm,
    within_availability,
)
from fengqiao_mediation.main import create_app
from pydantic import ValidationError

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2030, 1, 7, tzinfo=TZ)  # a Monday
H = timedelta(hours=1)


def slot(day: int, hour: int) -> Interval:
    s = (MON + timedelta(days=day)).replace(hour=hour)
    return Interval(s.astimezone(UTC), (s + H).astimezone(UTC))


def roster() -> list[Candidate]:
    base = dict(kind="public_official", categories=("labour", "family"), capacity=4)
    return [
        Candidate("A", "甲", gender="female", dialects=("普通话", "粤语"), load=0, slots=(slot(0, 10),), **base),
        Candidate("B", "乙", gender="male", dialects=("普通话", "粤语"), load=0, slots=(slot(0, 9),), **base),
        Candidate("C", "丙", gender="female", dialects=("普通话",), load=0, slots=(slot(0, 9),), **base),
        Candidate("D", "丁", gender="female", dialects=("普通话", "粤语"), load=2, slots=(slot(0, 9),), **base),
        Candidate("E", "戊", gender="female", dialects=("普通话", "粤语"), load=4, slots=(slot(0, 9),), **base),
        Candidate("F", "己", gender="female", dialects=("普通话", "粤语"), load=0, slots=(slot(0, 9),),
                  relations=("江门某劳务公司",), **base),
        Candidate("G", "庚", gender="female", dialects=("粤语",), load=0, slots=(slot(0, 9),), kind="lawyer",
                  categories=("traffic",), capacity=4),
        Candidate("H", "辛", gender="female", dialects=("粤语",), load=0, slots=(), **base),
        Candidate("I", "壬", gender="female", dialects=("粤语",), load=0, slots=(slot(0, 9),), outreach=False, **base),
    ]


def test_matcher_ranks_fixed_roster_with_reasons():
    req = Request(category="labour", dialect="粤语", gender="female", party_names=("陈大文", "江门某 劳务公司"))
    window = (MON.astimezone(UTC), (MON + timedelta(days=2)).astimezone(UTC))
    proposals, excluded = rank(roster(), req, window_start=window[0], window_end=window[1])
    # score = dialect 30 + gender 15 + load 20*(1-load/capacity) + soonness 5*(1-delay/window):
    # I 69.06 (first slot 09:00) > A 68.96 (10:00) > D 59.06 (half loaded) > B 54.06 (male) > C 39.06 (no 粤语)
    assert [p.mediator_id for p in proposals] == ["I", "A", "D", "B", "C"]
    assert [p.score for p in proposals] == [69.06, 68.96, 59.06, 54.06, 39.06]
    by_id = {p.mediator_id: p for p in proposals}
    assert by_id["A"].score > by_id["D"].score  # same preferences, D is busier: load is spread
    assert {r["code"] for r in by_id["C"].reasons} >= {"category", "dialect_missing", "gender", "load"}
    why = {e.mediator_id: {r["code"] for r in e.reasons} for e in excluded}
    assert why == {"E": {"full"}, "F": {"conflict_of_interest"}, "G": {"category"}, "H": {"no_slot"}}


def test_matcher_named_mediator_and_home_visits():
    req = Request(category="labour", mediator_id="C", mode="home")
    proposals, excluded = rank(roster(), req)
    assert proposals[0].mediator_id == "C"
    assert "named" in {r["code"] for r in proposals[0].reasons}
    assert "I" in {e.mediator_id for e in excluded}  # no home visits
    # the mediator already holding this mediation is not "full" because of it
    req = Request(category="labour", include_mediation_load="E")
    proposals, _ = rank(roster(), req)
    assert "E" in {p.mediator_id for p in proposals}


def test_free_slots_respect_weekly_hours_bookings_leave_and_now():
    weekly = [WeeklyWindow(0, parse_hhmm("09:00"), parse_hhmm("12:00")),
              WeeklyWindow(2, parse_hhmm("14:30"), parse_hhmm("16:30"))]
    window = Interval(MON.astimezone(UTC), (MON + timedelta(days=7)).astimezone(UTC))
    busy = [slot(0, 10)]
    out = free_slots(weekly, busy, window, slot=H, tz=TZ, now=MON.astimezone(UTC))
    local = [(s.start.astimezone(TZ).weekday(), s.start.astimezone(TZ).strftime("%H:%M")) for s in out]
    assert local == [(0, "09:00"), (0, "11:00"), (2, "14:30"), (2, "15:30")]
    later = free_slots(weekly, [], window, slot=H, tz=TZ, now=(MON.replace(hour=10, minute=30)).astimezone(UTC))
    assert later[0].start.astimezone(TZ).strftime("%a %H:%M") == "Mon 11:00"
    assert within_availability(weekly, slot(0, 11), TZ)
    assert not within_availability(weekly, slot(0, 12), TZ)
    assert not within_availability(weekly, slot(1, 10), TZ)


def _sealed(i: int, prev: str, **over) -> tuple[dict, list[dict]]:
    s = {"id": f"s{i}", "mediation_id": "m", "seq": i + 1, "started_at": MON, "ended_at": MON + H, "place": "调解室",
         "attendees": ["甲", "乙"], "points_agreed": [f"事项{i}"], "points_outstanding": [], "notes": None,
         "chain_index": i, "sealed_at": MON + 2 * H, "prev_hash": prev}
    s.update(over)
    sigs = [{"signer": f"party:{x}", "signer_role": "party", "signer_name": x, "method": "otp", "image_sha256": None,
             "content_hash": records.content_hash(s), "signed_at": MON + H} for x in ("p1", "p2")]
    s["record_hash"] = records.record_hash(s, sigs, prev)
    return s, sigs


def test_hash_chain_detects_edits_and_reordering():
    a = _sealed(0, records.GENESIS)
    b = _sealed(1, a[0]["record_hash"])
    assert all(c.ok for c in records.verify_chain([a, b]))
    edited = ({**a[0], "points_agreed": ["事项0（已改）"]}, a[1])
    checks = records.verify_chain([edited, b])
    assert not checks[0].ok and checks[1].ok
    forged_sig = (a[0], [{**a[1][0], "method": "image"}, a[1][1]])
    assert not records.verify_chain([forged_sig, b])[0].ok
    assert not any(c.ok for c in records.verify_chain([b, a]))
    assert records.canonical_json({"b": 1, "a": "中"}) == '{"a":"中","b":1}'.encode()


def test_agreement_points_and_signers():
    agreed, outstanding = rules.agreement_points([
        {"points_agreed": ["一", "二"], "points_outstanding": ["三"]},
        {"points_agreed": ["二", "三"], "points_outstanding": []}])
    assert agreed == ["一", "二", "三"] and outstanding == []
    assert rules.required_signers("M1", ["p1", "p2"]) == {"mediator:M1", "party:p1", "party:p2"}


def test_demo_pool_is_the_seed_mix_and_deterministic():
    mix = {"deputies_and_members": 15, "public_officials": 30, "cross_river_mediators": 20}
    cats = ["labour", "family", "neighbour", "property", "consumer", "traffic", "medical"]
    pool = demo_mediators(mix, cats, ["普通话", "粤语", "台山话"])
    assert len(pool) == 65 and len({m["id"] for m in pool}) == 65
    kinds = [m["kind"] for m in pool]
    assert (kinds.count("deputy_member"), kinds.count("public_official"), kinds.count("cross_river")) == (15, 30, 20)
    assert {c for m in pool for c in m["categories"]} == set(cats)
    assert {d for m in pool for d in m["dialects"]} == {"普通话", "粤语", "台山话"}
    assert {m["gender"] for m in pool} == {"male", "female"} and all(m["weekly"] for m in pool)
    assert pool == demo_mediators(mix, cats, ["普通话", "粤语", "台山话"])


SEAL_KEY = "11" * 32  # a fixed Ed25519 private key (hex)


def test_production_refuses_development_secrets_sms_and_no_seal_key():
    strong = "x" * 40
    with pytest.raises(ValidationError, match="COURT_CALLBACK_SECRET"):
        Settings(environment="production", internal_token_secret=strong)
    with pytest.raises(ValidationError, match="SMS_PROVIDER"):
        Settings(environment="production", internal_token_secret=strong, court_callback_secret=strong,
                 court_api_key="real-key")
    s = Settings(environment="production", internal_token_secret=strong, court_callback_secret=strong,
                 court_api_key="real-key", sms_provider="http", sms_http_url="https://sms.example.invalid/send")
    assert s.sms_provider == "http"
    with pytest.raises(SealKeyMissing, match="SEAL_KEY_FILE"):  # production does not start without a seal key
        load_keyring(s)
    with pytest.raises(SealKeyMissing):  # nor with a key file that is not there
        load_keyring(s.model_copy(update={"seal_key_file": Path("/nonexistent/seal.pem")}))
    assert not load_keyring(s.model_copy(update={"seal_private_key": SEAL_KEY})).ephemeral


def test_production_app_has_no_development_routes():
    strong = "x" * 40
    prod = create_app(Settings(environment="production", internal_token_secret=strong, court_callback_secret=strong,
                               court_api_key="k", sms_provider="http", sms_http_url="https://sms.example.invalid",
                               seal_private_key=SEAL_KEY))
    dev = create_app(Settings())
    assert "/api/v1/mediation/dev/sms" not in prod.openapi()["paths"]
    assert "/api/v1/mediation/dev/sms" in dev.openapi()["paths"]


def test_the_consumer_handles_or_ignores_every_topic_of_dispatch():
    from fengqiao_events.registry import specs_of_owner
    from fengqiao_mediation.consumers import consumer_specs

    [spec] = consumer_specs(lambda: None)
    dispatch = {s.topic for s in specs_of_owner("dispatch")}
    assert set(spec.handlers) == {"mediation.referred"}
    assert set(spec.handlers) | spec.ignores == dispatch and not set(spec.handlers) & spec.ignores


def test_every_route_declares_its_response():
    from fengqiao_mediation.court_simulator import create_app as create_court

    for app in (create_app(Settings()), create_court()):
        for path, ops in app.openapi()["paths"].items():
            for method, op in ops.items():
                ok = op["responses"].get("200") or op["responses"].get("201") or op["responses"].get("202")
                assert ok and ok.get("content"), (method, path)
                content = next(iter(ok["content"].values()))
                assert content.get("schema"), (method, path)
