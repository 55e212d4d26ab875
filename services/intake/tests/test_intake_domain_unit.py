"""Unit tests of the pure domain (no database, no broker)."""

import itertools
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from fengqiao_intake.domain import geo, grading, pii, signing
from fengqiao_intake.domain import status as st
from fengqiao_intake.domain.case_no import format_case_no
from fengqiao_intake.domain.egress import EgressRefused, check_addresses, host_allowed, host_of, split_list
from fengqiao_intake.domain.open311 import FMS_STATUS, spec_status, to_xml
from fengqiao_intake.schemas import valid_id_card


def test_grade_from_category_default_when_no_facts():
    d = grading.decide("blue", "楼道堆放杂物", 1)
    assert d.grade == "blue" and d.reasons == ["category_default:blue"]


@pytest.mark.parametrize(("text", "people", "grade", "reason"), [
    ("工人讨薪，老板欠薪三个月", 3, "orange", "wage_arrears"),
    ("门口有人聚集", 2, "orange", "gathering"),
    ("有人持刀威胁", 1, "red", "threat_to_life"),
    ("普通纠纷", 10, "orange", "people_involved>=10"),
    ("普通纠纷", 60, "red", "people_involved>=50"),
])
def test_grade_raised_by_facts(text, people, grade, reason):
    d = grading.decide("blue", text, people)
    assert d.grade == grade
    assert reason in d.reasons


def test_grade_never_lowered_and_reporter_grade_kept():
    assert grading.decide("red", "欠薪", 0).grade == "red"
    d = grading.decide("blue", "有人持刀", 1, given="yellow")
    assert d.grade == "yellow" and d.reasons == ["reporter"] and "持刀" in d.keywords


def test_status_forward_only_within_a_cycle_in_any_order():
    t0 = datetime(2026, 11, 28, 8, tzinfo=UTC)
    entries = [(t0 + timedelta(minutes=i), i, e) for i, e in
               enumerate(["accepted", "dispatched", "dispatched", "on_site", "resolved", "closed"])]
    for perm in itertools.permutations(entries):
        assert st.fold(perm) == "closed"
    # a late duplicate 'dispatched' (an assisting order) does not move an on-site case back
    assert st.fold([(t0, 1, "on_site"), (t0 + timedelta(minutes=5), 2, "dispatched")]) == "on_site"


def test_status_cycles_returned_reopened_and_merged():
    t = [datetime(2026, 11, 28, 8, tzinfo=UTC) + timedelta(minutes=i) for i in range(10)]
    assert st.fold([(t[0], 0, "dispatched"), (t[1], 1, "returned")]) == "returned"
    assert st.fold([(t[0], 0, "dispatched"), (t[1], 1, "returned"), (t[2], 2, "dispatched")]) == "dispatched"
    # the return arrives last but happened before the re-dispatch: still dispatched
    assert st.fold([(t[2], 2, "dispatched"), (t[0], 0, "dispatched"), (t[1], 1, "returned")]) == "dispatched"
    assert st.fold([(t[0], 0, "resolved"), (t[1], 1, "reopened")]) == "reopened"
    assert st.fold([(t[0], 0, "resolved"), (t[1], 1, "reopened"), (t[2], 2, "dispatched")]) == "dispatched"
    assert st.fold([(t[0], 0, "dispatched"), (t[1], 1, "reopened")]) == "dispatched"  # not rateable yet
    assert st.fold([(t[0], 0, "merged"), (t[1], 1, "closed")]) == "merged"
    assert st.fold([(t[0], 0, "closed"), (t[1], 1, "returned")]) == "closed"


def test_pii_masking():
    assert pii.mask_name("张三丰") == "张**"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_id_card("11010519491231002X") == "1101**********002X"
    assert pii.mask_id_card("440106199001011234") == "4401**********1234"
    p = pii.mask_party({"name": "李四", "phone": "13900001111", "id_card": None, "email": "li@example.com"})
    assert p == {"name": "李*", "phone": "139****1111", "id_card": None, "email": "l***@example.com",
                 "masked": True}
    assert pii.parties_view([{"name": "李四"}], contact=True) == [
        {"name": "李四", "masked": False, "id_card_masked": False}]
    full = {"name": "李四", "phone": "13900001111", "id_card": "440106199001011234"}
    assert pii.party_view(full, contact=True, id_number=False) == {
        "name": "李四", "phone": "13900001111", "id_card": "4401**********1234", "masked": False,
        "id_card_masked": True}
    assert pii.party_view(full, contact=True, id_number=True)["id_card"] == "440106199001011234"


def test_requester_ref_is_a_keyed_hmac_of_the_normalised_phone():
    import hashlib

    key, other = b"k" * 32, b"o" * 32
    ref = pii.requester_ref(key, phone="13900001111")
    assert ref.startswith("req-") and "13900001111" not in ref
    # the same person through the hall and through 粤省事: one ref, whatever the spelling of the number
    assert ref == pii.requester_ref(key, phone="+86 139-0000-1111") == pii.requester_ref(key, phone="8613900001111")
    assert pii.requester_ref(other, phone="13900001111") != ref  # keyed: another key, another ref
    # not the old unsalted hash (which anyone could recompute by trying every phone number)
    for old in ("yue-sheng-shi|13900001111", "petition|13900001111", "13900001111"):
        assert hashlib.sha256(old.encode()).hexdigest()[:24] not in ref
    assert pii.requester_ref(key, id_card="11010519491231002x") == pii.requester_ref(key, id_card="11010519491231002X")
    assert pii.requester_ref(key) is None and pii.requester_ref(key, phone=" ") is None
    parties = [{"role": "respondent", "phone": "13700000000"}, {"role": "requester", "phone": "13900001111"}]
    assert pii.ref_of_parties(key, parties) == ref and pii.ref_of_parties(key, []) is None


def test_id_card_checksum():
    assert valid_id_card("11010519491231002X")
    assert not valid_id_card("110105194912310021")
    assert not valid_id_card("12345")


def test_signature_and_replay_window():
    body = b'{"a":1}'
    ts = int(time.time())
    sig = signing.sign("s3cret", ts, body)
    assert sig.startswith("sha256=")
    assert signing.verify("s3cret", str(ts), body, sig, now=ts)
    assert not signing.verify("s3cret", str(ts), body + b" ", sig, now=ts)
    assert not signing.verify("other", str(ts), body, sig, now=ts)
    assert not signing.verify("s3cret", str(ts), body, sig, now=ts + 301)  # replayed later: refused
    assert [signing.backoff_seconds(a, 10, 60) for a in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_egress_rules():
    assert host_of("https://hooks.example.com:8443/x") == ("hooks.example.com", 8443)
    for bad in ("ftp://x/", "http:///x", "http://u:p@x/"):
        with pytest.raises(EgressRefused):
            host_of(bad)
    allowed = split_list("*.example.com, 127.0.0.1")
    assert host_allowed("a.example.com", allowed) and host_allowed("127.0.0.1", allowed)
    assert not host_allowed("example.org", allowed)
    check_addresses(["93.184.216.34"], [])
    for private in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "::ffff:10.0.0.1", "0.0.0.0"):
        with pytest.raises(EgressRefused):
            check_addresses([private], [])
    check_addresses(["127.0.0.1"], ["127.0.0.1/32"])
    with pytest.raises(EgressRefused):
        check_addresses(["93.184.216.34", "10.0.0.1"], [])  # any private answer refuses


def test_case_no_geo_open311_status():
    assert format_case_no("WH", date(2026, 11, 28), 1) == "WH-20261128-0001"
    assert format_case_no("WH", date(2026, 11, 28), 12345) == "WH-20261128-12345"
    assert 1100 < geo.distance_m(22.0, 113.0, 22.01, 113.0) < 1125
    assert geo.nearest(22.0, 113.0, [("a", 22.0, 113.001), ("b", 22.1, 113.0)], 500) == "a"
    assert geo.nearest(23.0, 113.0, [("a", 22.0, 113.001)], 500) is None
    assert spec_status("on_site") == "open" and spec_status("closed") == "closed" and spec_status("merged") == "closed"
    assert set(FMS_STATUS) == set(st.STATUSES)
    xml = to_xml("services", "service", [{"service_code": "x", "metadata": True, "group": None}])
    assert b"<services><service><service_code>x</service_code><metadata>true</metadata><group /></service>" in xml


def test_production_refuses_to_start_without_a_requester_key():
    import pytest
    from fengqiao_intake.config import DEV_REQUESTER_KEY, Settings

    secret = "s" * 40
    for bad in ("", DEV_REQUESTER_KEY, "short"):
        with pytest.raises(ValueError, match="INTAKE_REQUESTER_KEY"):
            Settings(environment="production", internal_token_secret=secret, requester_key=bad)
    ok = Settings(environment="production", internal_token_secret=secret, requester_key="k" * 32)
    assert ok.requester_key_bytes == b"k" * 32 and "k" * 32 not in repr(ok)
    assert Settings(environment="development").requester_key_bytes == DEV_REQUESTER_KEY.encode()
    assert Settings().open311_public_feed is True
