"""Open311 GeoReport v2 (and FixMyStreet's updates feed), field by field, JSON and XML."""

import uuid
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from fengqiao_devstack.testing import eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.order import CaseClosed, CaseResolved, OrderDispatched
from intake_helpers import grid_event, system, worker

REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]


def xml_items(text: bytes, root: str, item: str) -> list[dict]:
    top = ET.fromstring(text)
    assert top.tag == root
    out = []
    for el in top:
        assert el.tag == item
        out.append({c.tag: (c.text if len(c) == 0 else c) for c in el})
    return out


def _post_form(**over):
    form = {"api_key": "whatever-the-gateway-checked", "service_code": "urban", "lat": "22.5957", "long": "113.1032",
            "address_string": "外海大道 100 号", "description": "路灯损坏，夜间漆黑。", "first_name": "小明",
            "last_name": "王", "phone": "13700002222", "email": "wang@example.com",
            "media_url": "https://img.example.com/p.jpg", "attribute[people_involved]": "3",
            "device_id": "dev-1", "account_id": "acc-1"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


async def test_services_list_json_and_xml(client):
    r = await client.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert len(services) == 9
    for s in services:
        assert list(s) == SERVICE_FIELDS
        assert s["type"] in ("realtime", "batch", "blackbox") and isinstance(s["metadata"], bool)
    assert {"service_code": "labour", "service_name": "劳动社保"}.items() <= services[0].items()
    r = await client.get("/open311/v2/services.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    items = xml_items(r.content, "services", "service")
    assert [i["service_code"] for i in items] == [s["service_code"] for s in services]
    assert list(items[0]) == SERVICE_FIELDS and items[0]["metadata"] == "true" and items[0]["type"] == "realtime"


async def test_service_definition_json_and_xml(client):
    d = (await client.get("/open311/v2/services/labour.json")).json()
    assert d["service_code"] == "labour"
    codes = [a["code"] for a in d["attributes"]]
    assert codes == ["people_involved", "grid", "occurred_at"]
    for a in d["attributes"]:
        assert set(a) == {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
                          "values"}
        assert a["datatype"] in ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
    grid = d["attributes"][1]
    assert grid["values"][0] == {"key": "WH-01", "name": "第1网格"} and len(grid["values"]) == 77
    r = await client.get("/open311/v2/services/labour.xml")
    top = ET.fromstring(r.content)
    assert top.tag == "service_definition" and top.findtext("service_code") == "labour"
    attrs = top.find("attributes").findall("attribute")
    assert [a.findtext("code") for a in attrs] == codes
    assert attrs[0].findtext("variable") == "true" and attrs[0].findtext("required") == "false"
    assert attrs[1].find("values").findall("value")[0].findtext("key") == "WH-01"
    r = await client.get("/open311/v2/services/nope.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404 and r.json()[0]["description"]


async def test_post_request_json_and_xml_and_read_back(client, kafka_bootstrap):
    r = await client.post("/open311/v2/requests.json", data=_post_form(), headers=system("gd-gov-service"))
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    srid = created["service_request_id"]
    assert srid.startswith("WH-") and created["account_id"] is None
    r = await client.post("/open311/v2/requests.xml", data=_post_form(description="另一盏路灯", lat="22.40"),
                          headers=system("gd-gov-service"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    [x] = xml_items(r.content, "service_requests", "request")
    assert x["service_request_id"].startswith("WH-") and x["account_id"] is None
    # GET one by the system that submitted it, JSON: the full request
    r = await client.get(f"/open311/v2/requests/{srid}.json", headers=system("gd-gov-service"))
    assert r.status_code == 200
    [req] = r.json()
    assert list(req) == REQUEST_FIELDS
    assert req["service_request_id"] == srid and req["status"] == "open" and req["service_code"] == "urban"
    assert req["service_name"] == "城市管理与环境" and req["description"] == "路灯损坏，夜间漆黑。"
    assert req["address"] == "外海大道 100 号" and req["lat"] == 22.5957 and req["long"] == 113.1032
    assert req["media_url"] == "https://img.example.com/p.jpg"
    assert datetime.fromisoformat(req["requested_datetime"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert req["address_id"] is None and req["zipcode"] is None
    assert "13700002222" not in r.text and "wang@example.com" not in r.text and "小明" not in r.text
    # GET one anonymously: the public view, same fields, no free text, no address, ~100 m, no photo
    r = await client.get(f"/open311/v2/requests/{srid}.json")
    assert r.status_code == 200
    [pub] = r.json()
    assert list(pub) == REQUEST_FIELDS and pub["service_request_id"] == srid
    assert pub["description"] == "城市管理与环境" and pub["address"] != "外海大道 100 号"
    assert pub["lat"] == 22.596 and pub["long"] == 113.103 and pub["media_url"] is None
    # personal data never in the public feed
    for secret in ("13700002222", "wang@example.com", "小明", "路灯损坏", "外海大道 100 号", "22.5957"):
        assert secret not in r.text
    # the nearest grid was found from the coordinates
    case = (await client.get(f"/api/v1/cases/{srid}", headers=system("gd-gov-service"))).json()
    assert case["grid"] == "WH-01" and case["channel"] == "open311" and case["people_involved"] == 3
    assert case["parties"][0]["phone"] == "137****2222"
    # dispatch + close through events: status, agency, notes and expected_datetime follow
    at = datetime.fromisoformat(case["reported_at"])
    await publish(kafka_bootstrap,
                  new_envelope(OrderDispatched(order_id="o-311", case_id=case["id"], department="ZFB", at=at + timedelta(milliseconds=1),
                                               department_name="综合行政执法办公室", level="street", role="lead",
                                               category="urban", grade="blue", summary="s", description="d",
                                               deadlines={"resolve_by": at + timedelta(days=3)}), source="/fengqiao/dispatch"),
                  new_envelope(CaseResolved(case_id=case["id"], at=at + timedelta(milliseconds=2)), source="/fengqiao/dispatch"),
                  new_envelope(CaseClosed(case_id=case["id"], at=at + timedelta(milliseconds=3)), source="/fengqiao/dispatch"))

    async def closed():
        [q] = (await client.get(f"/open311/v2/requests/{srid}.json", headers=system("gd-gov-service"))).json()
        # the three topics may be consumed in any order: wait until every event has landed
        return q if q["status"] == "closed" and q["agency_responsible"] else None
    req = await eventually(closed, timeout=30)
    assert req["agency_responsible"] == "综合行政执法办公室"
    assert req["status_notes"].startswith("案件结案 / case closed")
    assert req["expected_datetime"] and req["updated_datetime"] >= req["requested_datetime"]
    [anon] = (await client.get(f"/open311/v2/requests/{srid}.json")).json()
    assert anon["status_notes"] == "案件结案 / case closed" and anon["agency_responsible"] == "综合行政执法办公室"
    # GET one, XML (full for its system, coarsened anonymously)
    r = await client.get(f"/open311/v2/requests/{srid}.xml", headers=system("gd-gov-service"))
    [xr] = xml_items(r.content, "service_requests", "request")
    assert list(xr) == REQUEST_FIELDS
    assert xr["service_request_id"] == srid and xr["status"] == "closed" and xr["long"] == "113.1032"
    assert xr["zipcode"] is None  # empty element
    r = await client.get(f"/open311/v2/requests/{srid}.xml")
    [xa] = xml_items(r.content, "service_requests", "request")
    assert list(xa) == REQUEST_FIELDS and xa["long"] == "113.103" and xa["description"] == "城市管理与环境"
    # updates feed (FixMyStreet): one update per status change, JSON and XML
    r = await client.get("/open311/v2/servicerequestupdates.json")
    ups = [u for u in r.json() if u["service_request_id"] == srid]
    assert [u["status"] for u in ups] == ["action_scheduled", "fixed", "closed"]
    assert list(ups[0]) == ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]
    assert ups[0]["description"] == "派单 / order dispatched"  # anonymous: the label, not the department's text
    own = (await client.get("/open311/v2/servicerequestupdates.json", headers=system("gd-gov-service"))).json()
    assert next(u["description"] for u in own if u["service_request_id"] == srid).startswith("派单 / order dispatched:")
    r = await client.get("/open311/v2/servicerequestupdates.xml",
                         params={"start_date": (at - timedelta(hours=1)).isoformat(),
                                 "end_date": (at + timedelta(hours=1)).isoformat()})
    xups = [u for u in xml_items(r.content, "service_request_updates", "request_update")
            if u["service_request_id"] == srid]
    assert [u["status"] for u in xups] == ["action_scheduled", "fixed", "closed"]
    assert [u["update_id"] for u in xups] == [u["update_id"] for u in ups]


async def test_get_requests_filters(client):
    h = system("gd-gov-service")
    a = (await client.post("/open311/v2/requests.json", data=_post_form(service_code="health", lat="22.41"), headers=h)).json()[0]
    b = (await client.post("/open311/v2/requests.json", data=_post_form(service_code="consumer", lat="22.42"), headers=h)).json()[0]
    ids = f"{a['service_request_id']},{b['service_request_id']}"
    r = await client.get("/open311/v2/requests.json", params={"service_request_id": ids})
    assert sorted(x["service_request_id"] for x in r.json()) == sorted(ids.split(","))
    r = await client.get("/open311/v2/requests.json", params={"service_code": "health"})
    got = r.json()
    assert a["service_request_id"] in [x["service_request_id"] for x in got]
    assert {x["service_code"] for x in got} == {"health"}
    r = await client.get("/open311/v2/requests.json", params={"status": "closed", "service_code": "health"})
    assert a["service_request_id"] not in [x["service_request_id"] for x in r.json()]
    r = await client.get("/open311/v2/requests.json", params={"status": "open", "service_code": "health"})
    assert a["service_request_id"] in [x["service_request_id"] for x in r.json()]
    now = datetime.now(UTC)
    r = await client.get("/open311/v2/requests.json", params={
        "start_date": (now - timedelta(days=100)).isoformat(), "end_date": (now - timedelta(days=95)).isoformat()})
    assert r.status_code == 200 and r.json() == []
    r = await client.get("/open311/v2/requests.xml", params={"start_date": (now - timedelta(minutes=30)).isoformat()})
    assert b["service_request_id"] in [i["service_request_id"] for i in xml_items(r.content, "service_requests", "request")]
    # the 90-day window
    r = await client.get("/open311/v2/requests.json", params={
        "start_date": (now - timedelta(days=120)).isoformat(), "end_date": now.isoformat()})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = await client.get("/open311/v2/requests.xml", params={"status": "pending"})
    assert r.status_code == 400
    err = ET.fromstring(r.content)
    assert err.tag == "errors" and err.find("error").findtext("code") == "400" and err.find("error").findtext("description")
    r = await client.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400
    # only requests that came through Open311 are published: a grid event is not in the feed
    ge = (await client.post("/api/v1/cases/grid-events", json=grid_event(), headers=worker())).json()
    r = await client.get("/open311/v2/requests.json", params={"service_request_id": ge["case_no"]})
    assert r.status_code == 200 and r.json() == []
    assert ge["case_no"] not in (await client.get("/open311/v2/requests.json")).text


@pytest.mark.parametrize(("form", "headers", "code"), [
    (_post_form(service_code=None), "sys", 400),
    (_post_form(service_code="nope"), "sys", 404),
    (_post_form(lat=None, long=None, address_string=None), "sys", 400),
    (_post_form(description=None), "sys", 400),
    (_post_form(description="x" * 4001), "sys", 400),
    (_post_form(**{"attribute[people_involved]": "many"}), "sys", 400),
    (_post_form(**{"attribute[grid]": "WH-99"}), "sys", 400),
    (_post_form(**{"attribute[colour]": "red"}), "sys", 400),
    (_post_form(lat="200"), "sys", 400),
    (_post_form(media_url="file:///etc/passwd"), "sys", 400),
    (_post_form(), None, 403),
    (_post_form(), "forged", 403),
])
async def test_post_request_errors_use_the_spec_bodies(client, form, headers, code):
    h = {"sys": system("gd-gov-service"), None: {}, "forged": {"X-Fengqiao-Identity": "forged"}}[headers]
    for fmt in ("json", "xml"):
        r = await client.post(f"/open311/v2/requests.{fmt}", data=form, headers=h)
        assert r.status_code == code, r.text
        if fmt == "json":
            [e] = r.json()
            assert e["code"] == code and e["description"]
        else:
            top = ET.fromstring(r.content)
            assert top.tag == "errors" and top.find("error").findtext("code") == str(code)


async def test_not_found_and_bad_format(client):
    r = await client.get(f"/open311/v2/requests/WH-19990101-{uuid.uuid4().int % 10000:04d}.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = await client.get("/open311/v2/requests/nope.xml")
    assert r.status_code == 404 and ET.fromstring(r.content).tag == "errors"
    r = await client.get("/open311/v2/services.yaml")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


async def test_open311_post_is_idempotent_with_a_key(client):
    h = {**system("gd-gov-service"), "Idempotency-Key": uuid.uuid4().hex}
    r1 = await client.post("/open311/v2/requests.json", data=_post_form(lat="22.43"), headers=h)
    r2 = await client.post("/open311/v2/requests.json", data=_post_form(lat="22.43"), headers=h)
    assert r1.json()[0]["service_request_id"] == r2.json()[0]["service_request_id"]
