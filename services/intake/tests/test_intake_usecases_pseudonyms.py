"""Requester pseudonyms (HMAC under intake's key), their rekeying, the public Open311 view, safe CSV cells."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

from fengqiao_events.payloads.case import GridEventReported
from fengqiao_intake.api.views import cases_csv
from fengqiao_intake.domain import csvsafe, pii
from fengqiao_intake.schemas import LocationIn, PartyIn, PetitionIn
from fengqiao_intake.usecases import open311
from fengqiao_intake.usecases.cases import NewCase, create_case, register_petition
from fengqiao_intake.usecases.pseudonyms import rekey_requesters
from fengqiao_intake.usecases.status import record_event
from intake_usecase_kit import DISPATCHER, SYSTEM, demand_body, envelope, new_case, world
from test_intake_usecases_status import _dispatched

KEY = b"t" * 32


async def test_the_same_phone_through_the_hall_and_through_yue_sheng_shi_is_one_hmac_ref():
    uow, c, _ = world()
    hall = (await register_petition(uow, DISPATCHER, PetitionIn(
        category="labour", channel="visit", description="欠薪", grid="WH-01",
        requester=PartyIn(name="王小明", phone="+86-13700001234")), ctx=c)).item
    online = await new_case(uow, c, SYSTEM, body=demand_body(requester=PartyIn(name="王小明", phone="13700001234")))
    refs = {r["case_id"]: r["requester_ref"] for r in uow.db.requesters}
    assert refs[hall["id"]] == refs[online["id"]] == pii.requester_ref(c.requester_key, phone="13700001234")
    assert [e.requester_ref for e in uow.events_of(GridEventReported)] == [refs[hall["id"]]] * 2
    # the old scheme (unsalted SHA-256 of "system|phone") is not what is sent
    assert hashlib.sha256(b"yue-sheng-shi|13700001234").hexdigest()[:24] not in refs[online["id"]]
    assert {r["requester_ref_scheme"] for r in uow.db.requesters} == {pii.HMAC_SCHEME}


async def test_rekey_recomputes_pre_hmac_refs_and_marks_unrecoverable_ones_legacy():
    uow, c, _ = world()
    case = await new_case(uow, c)  # requester 张三丰 13812345678
    [row] = uow.db.requesters
    row.update(requester_ref="req-" + hashlib.sha256(b"grid_app|13812345678").hexdigest()[:24],
               requester_ref_scheme=pii.PENDING_SCHEME)
    uow.db.requesters.append({"id": 10_000, "case_id": case["id"], "origin_case_id": "gone", "source_system": None,
                              "channel": "external", "requester_ref": "req-old", "requester_ref_scheme": "pending"})
    assert await rekey_requesters(uow, key=KEY, batch=1) == 1
    assert row["requester_ref"] == pii.requester_ref(KEY, phone="13812345678")
    assert row["requester_ref_scheme"] == pii.HMAC_SCHEME
    assert await rekey_requesters(uow, key=KEY, batch=10) == 1
    gone = uow.db.requesters[-1]
    assert gone["requester_ref"] == "req-old" and gone["requester_ref_scheme"] == pii.LEGACY_SCHEME
    assert await rekey_requesters(uow, key=KEY) == 0


async def test_open311_anonymous_readers_get_the_public_view_and_owners_the_full_one():
    uow, c, _ = world()
    body = demand_body(location=LocationIn(lat=22.595834, lon=113.103251, address="外海大道 8 号 3 栋 201"))
    o = (await create_case(uow, SYSTEM, NewCase(body, "open311", snap_grid=True), ctx=c)).item
    assert o["grid"]
    p = _dispatched(o, uow.now() + timedelta(seconds=5))
    await record_event(uow, envelope(p), p)
    q = open311.RequestQuery(ids=[o["case_no"]])
    [anon] = await open311.find_requests(uow, q)
    assert anon.full is False
    [own] = await open311.find_requests(uow, q, principal=SYSTEM)
    assert own.full is True
    assert await open311.find_requests(uow, q, public_feed=False) == []
    assert [r.full for r in await open311.find_requests(uow, q, principal=SYSTEM, public_feed=False)] == [True]
    from fengqiao_intake.domain.open311 import public_request_view, request_view

    pub = public_request_view(anon.case, anon.context, c.jurisdiction)
    full = request_view(own.case, own.context, c.jurisdiction)
    assert set(pub) == set(full)  # the GeoReport v2 fields, unchanged
    assert pub["description"] == pub["service_name"] != o["description"]
    assert pub["address"] == c.jurisdiction.grid(o["grid"]).name and full["address"] == "外海大道 8 号 3 栋 201"
    assert pub["media_url"] is None
    assert pub["lat"] == round(o["lat"], 3) and pub["long"] == round(o["lon"], 3)
    assert pub["status_notes"] == "派单 / order dispatched" and full["status_notes"].startswith("派单 / order dispatched:")
    start, end = uow.now() - timedelta(days=1), uow.now() + timedelta(days=1)
    [u] = await open311.status_updates(uow, start, end, limit=10)
    assert u["full"] is False and u["kind"] == "order.dispatched"
    assert [u["full"] for u in await open311.status_updates(uow, start, end, limit=10, principal=SYSTEM)] == [True]
    assert await open311.status_updates(uow, start, end, limit=10, public_feed=False) == []


def test_csv_cells_never_start_a_formula():
    for bad in ("=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csvsafe.safe_cell(bad) == "'" + bad
    assert csvsafe.safe_cell("正常文本") == "正常文本" and csvsafe.safe_cell(None) == "" and csvsafe.safe_cell(3) == 3
    item = {"case_no": "=cmd|' /C calc'!A0", "status": "reported", "channel": "grid_app", "sub_channel": None,
            "source_system": "@x", "category": "-x", "grade": "+x", "district": "d", "street": "s",
            "community": None, "grid": "WH-01", "location": {"address": "\t=1+1"}, "summary": "=HYPERLINK(\"u\")",
            "people_involved": 2, "reported_at": "2026-12-01", "parties": [
                {"role": "requester", "name": "=张", "phone": "+8613800000000", "id_card": None}]}
    cells = [cell for row in csv.reader(io.StringIO(cases_csv([item]).decode("utf-8-sig"))) for cell in row]
    assert cells and not [x for x in cells if x.startswith(csvsafe.FORMULA_PREFIXES)]
