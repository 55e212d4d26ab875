"""Access by purpose through the real app (real PostgreSQL, real broker, identities as the gateway sends them):
departments and mediators read only their cases, ID numbers masked, reveals and reads audited, exports
without formulas, the Open311 feed with or without the public view."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

from fengqiao_devstack.testing import eventually, identity_headers, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.mediation import MediationBooked
from fengqiao_events.payloads.order import OrderDispatched
from intake_helpers import dispatcher, grid_event, system, worker

ID = "11010519491231002X"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" + b"\x00" * 64


def officer(dept: str, **kw) -> dict:
    return identity_headers(roles=["department_officer"], department=dept, name=f"{dept} 干部", **kw)


def mediator(mid: str) -> dict:
    return identity_headers(roles=["mediator"], mediator_id=mid, sub=f"user-{mid}")


def admin() -> dict:
    return identity_headers(roles=["admin"], sub="admin-1")


async def _report(client, grid: str, **over) -> dict:
    gw = worker(grid, sub=f"gw-{grid}")
    body = grid_event(grid=grid, parties=[{"name": "张三丰", "phone": "13812345678", "id_card": ID,
                                            "role": "requester"}], **over)
    r = await client.post("/api/v1/cases/grid-events", json=body, headers=gw)
    assert r.status_code == 201, r.text
    assert r.headers["x-fengqiao-audit-fields"] == "name(masked),phone(masked),id_number(masked)"
    assert r.headers["x-fengqiao-audit-purpose"] == "registration"
    return r.json()


async def _ids(client, headers, **params) -> list[str]:
    r = await client.get("/api/v1/cases", headers=headers, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


async def _export(client, headers, **params) -> str:
    r = await client.get("/api/v1/cases/export.csv", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.content.decode("utf-8-sig")


async def test_a_department_reads_a_case_only_once_it_holds_an_order_on_it_and_is_audited(client, kafka_bootstrap):
    gw = worker("WH-60", sub="gw-WH-60")
    att = (await client.post("/api/v1/attachments", files={"file": ("p.png", PNG, "image/png")}, headers=gw)).json()
    case = await _report(client, "WH-60", attachments=[att["id"]])
    rss, pcs = officer("RSS", sub="officer-rss-1"), officer("PCS", sub="officer-pcs-1")
    dept_key = identity_headers(kind="api_key", roles=["department_system"], department="RSS", sub="key-dept-rss")
    # no order yet: 404, absent from the list and the export, attachment 404
    for h in (rss, dept_key):
        assert (await client.get(f"/api/v1/cases/{case['id']}", headers=h)).status_code == 404
        assert case["id"] not in await _ids(client, h)
        assert case["case_no"] not in await _export(client, h, grid="WH-60")
        assert (await client.get(f"/api/v1/attachments/{att['id']}", headers=h)).status_code == 404
    at = datetime.fromisoformat(case["reported_at"]) + timedelta(seconds=1)
    await publish(kafka_bootstrap, new_envelope(OrderDispatched(
        order_id=f"o-{uuid.uuid4().hex[:6]}", case_id=case["id"], case_no=case["case_no"], department="RSS", at=at,
        department_name="外海人社所", level="street", role="lead", category="neighbour", grade="blue", summary="s",
        description="d"), source="/fengqiao/dispatch"))

    async def visible():
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=rss)
        return r if r.status_code == 200 else None

    where = {"X-Request-ID": "rid-officer-1", "X-Forwarded-For": "198.51.100.23"}
    await eventually(visible, timeout=30)
    r = await client.get(f"/api/v1/cases/{case['id']}", headers={**rss, **where})
    [party] = r.json()["parties"]
    assert party["name"] == "张三丰" and party["phone"] == "13812345678"
    assert r.headers["x-fengqiao-audit-fields"] == "name,phone,id_number(masked)"
    assert r.headers["x-fengqiao-audit-purpose"] == "handle_order"
    assert r.headers["x-fengqiao-audit-subjects"] == case["case_no"]
    assert party["id_card"] == "1101**********002X" and ID not in r.text  # never a full ID number
    assert case["id"] in await _ids(client, dept_key)
    r = await client.get("/api/v1/cases/export.csv", headers=rss, params={"grid": "WH-60"})
    assert case["case_no"] in r.headers["x-fengqiao-audit-subjects"].split(",")
    text = await _export(client, rss, grid="WH-60")
    assert case["case_no"] in text and "13812345678" in text and ID not in text
    r = await client.get(f"/api/v1/attachments/{att['id']}", headers=rss)
    assert r.content == PNG and r.headers["x-fengqiao-audit-subjects"] == case["id"]
    # another department still reads nothing of it
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=pcs)).status_code == 404
    assert case["id"] not in await _ids(client, pcs)
    assert (await client.get(f"/api/v1/attachments/{att['id']}", headers=pcs)).status_code == 404
    # the officer's reads are in the audit log, with the fields read, the request id and the address
    r = await client.get("/api/v1/cases/access-log", headers=admin(), params={"case": case["case_no"]})
    assert r.status_code == 200, r.text
    rows = [x for x in r.json()["items"] if x["actor_id"] == "officer-rss-1"]
    assert {x["action"] for x in rows} == {"detail", "export", "attachment"}
    detail = next(x for x in rows if x["request_id"] == "rid-officer-1")
    assert detail["fields"] == ["parties.name", "parties.phone"] and detail["purpose"] == "handle_order"
    assert detail["client_address"] == "198.51.100.23" and detail["role"] == "department_officer"
    assert detail["department"] == "RSS" and detail["case_no"] == case["case_no"]
    assert not [x for x in r.json()["items"] if x["actor_id"] == "officer-pcs-1"]
    # who may read the log: admin and the data-protection officer; not the officer
    dpo = identity_headers(roles=["dpo"], sub="dpo-1")
    r = await client.get("/api/v1/cases/access-log", headers=dpo, params={"actor": "officer-rss-1"})
    assert r.status_code == 200 and r.json()["total"] >= 3
    r = await client.get("/api/v1/cases/access-log", headers=dpo, params={"resident": ID, "actor": "officer-rss-1"})
    assert r.status_code == 200 and case["id"] in {x["case_id"] for x in r.json()["items"]}
    assert (await client.get("/api/v1/cases/access-log", headers=rss)).status_code == 403
    assert (await client.get("/api/v1/cases/access-log", headers=dispatcher())).status_code == 403


async def test_a_mediator_reads_only_cases_of_mediations_booked_with_them(client, kafka_bootstrap):
    case = await _report(client, "WH-61")
    mine, other = mediator("med-it-1"), mediator("med-it-2")
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=mine)).status_code == 404
    assert case["id"] not in await _ids(client, mine)
    at = datetime.fromisoformat(case["reported_at"]) + timedelta(seconds=1)
    await publish(kafka_bootstrap, new_envelope(MediationBooked(
        mediation_id=f"m-{uuid.uuid4().hex[:6]}", case_id=case["id"], category="neighbour", at=at, booking_id="b1",
        mediator_id="med-it-1", starts_at=at + timedelta(days=1), ends_at=at + timedelta(days=1, hours=1)),
        source="/fengqiao/mediation"))

    async def visible():
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=mine)
        return r if r.status_code == 200 else None

    r = await eventually(visible, timeout=30)
    assert r.json()["parties"][0]["phone"] == "13812345678" and ID not in r.text
    assert case["id"] in await _ids(client, mine)
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=other)).status_code == 404
    assert case["id"] not in await _ids(client, other)


async def test_only_a_dispatcher_reveals_an_id_number_with_a_purpose_and_it_is_recorded(client):
    case = await _report(client, "WH-62")
    d = dispatcher(sub="disp-reveal")
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=d)
    assert r.json()["parties"][0]["id_card"] == "1101**********002X" and ID not in r.text
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=d, params={"reveal": "id_number"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "purpose"
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=d, params={"reveal": "id_number", "purpose": "x"})
    assert r.status_code == 422
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=d,
                         params={"reveal": "id_number", "purpose": "identity_verification"})
    assert r.status_code == 200 and r.json()["parties"][0]["id_card"] == ID
    for h in (identity_headers(roles=["leader"]), admin(), worker("WH-62")):
        r = await client.get(f"/api/v1/cases/{case['id']}", headers=h,
                             params={"reveal": "id_number", "purpose": "identity_verification"})
        assert r.status_code == 403, r.text
    log = (await client.get("/api/v1/cases/access-log", headers=admin(), params={"case": case["id"]})).json()
    revealed = [x for x in log["items"] if "parties.id_card" in x["fields"]]
    assert [(x["actor_id"], x["purpose"]) for x in revealed] == [("disp-reveal", "identity_verification")]
    # a grid worker's and a leader's reads are masked and leave no audit row
    before = log["total"]
    await client.get(f"/api/v1/cases/{case['id']}", headers=worker("WH-62"))
    await client.get(f"/api/v1/cases/{case['id']}", headers=identity_headers(roles=["leader"]))
    assert (await client.get("/api/v1/cases/access-log", headers=admin(),
                             params={"case": case["id"]})).json()["total"] == before


async def test_the_export_holds_no_cell_that_starts_a_formula(client):
    await _report(client, "WH-63", title='=HYPERLINK("http://evil.example","点我")',
                  description="-2+3 @SUM(A1)", location={"lat": 21.9, "lon": 110.9, "address": "+86 外海"})
    for h in (dispatcher(), identity_headers(roles=["leader"])):
        text = await _export(client, h, grid="WH-63")
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert any(c.startswith("'=HYPERLINK") for c in cells)
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


async def test_the_open311_feed_without_the_public_view_needs_an_api_key(client, runtime):
    h = system("gd-gov-service")
    form = {"service_code": "urban", "lat": "22.5957", "long": "113.1032", "address_string": "外海大道 7 号",
            "description": "井盖缺失。"}
    srid = (await client.post("/open311/v2/requests.json", data=form, headers=h)).json()[0]["service_request_id"]
    settings = runtime.deps.settings
    settings.open311_public_feed = False
    try:
        for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{srid}.json",
                     "/open311/v2/servicerequestupdates.json"):
            r = await client.get(path)
            assert r.status_code == 403 and r.json()[0]["code"] == 403
        [own] = (await client.get(f"/open311/v2/requests/{srid}.json", headers=h)).json()
        assert own["description"] == "井盖缺失。"
        # another system sees neither its full view nor a public one
        r = await client.get(f"/open311/v2/requests/{srid}.json", headers=system("yue-shang-tong"))
        assert r.status_code == 404
        listed = (await client.get("/open311/v2/requests.json", headers=system("yue-shang-tong"))).json()
        assert srid not in [x["service_request_id"] for x in listed]
    finally:
        settings.open311_public_feed = True
    [pub] = (await client.get(f"/open311/v2/requests/{srid}.json")).json()
    assert pub["description"] == "城市管理与环境" and "井盖" not in str(pub) and pub["lat"] == 22.596
