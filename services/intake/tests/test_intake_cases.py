"""Reports, petitions and demands against the real database and broker."""

import asyncio
import re
from datetime import UTC, datetime

from fengqiao_devstack.testing import identity_headers
from fengqiao_intake.adapters.orm import case_counters, cases
from intake_helpers import dispatcher, grid_event, spot, system, worker
from sqlalchemy import func, select


async def _count(runtime) -> int:
    async with runtime.session_factory() as s:
        return (await s.execute(select(func.count()).select_from(cases))).scalar_one()


async def test_grid_event_becomes_a_case_and_emits_grid_event_reported(client, kafka_bootstrap, probe):
    body = grid_event(category="labour", title="厂门口欠薪", description="约 30 名工人在厂门口讨薪，称公司欠薪两个月。",
                      people_involved=30, occurred_at="2026-11-28T08:30:00+08:00")
    r = await client.post("/api/v1/cases/grid-events", json=body, headers=worker("WH-01", sub="gw-1"))
    assert r.status_code == 201, r.text
    c = r.json()
    assert re.fullmatch(r"WH-\d{8}-\d{4}", c["case_no"])
    assert c["status"] == "reported" and c["channel"] == "grid_app"
    assert c["grade"] == "orange"
    assert "wage_arrears" in c["grade_reasons"] and "people_involved>=10" in c["grade_reasons"]
    assert c["grid"] == "WH-01" and c["community"] == "C01" and c["street"] == "WH" and c["district"] == "JH"
    assert r.headers["location"] == f"/api/v1/cases/{c['id']}"
    [env] = await probe.wait_for(lambda e: e.topic == "grid.event.reported" and e.subject == c["id"], timeout=30)
    p = env.data
    assert env.type == "cn.fengqiao.grid.event.reported"
    assert env.extensions == {"category": "labour", "grade": "orange"}
    assert p["case_no"] == c["case_no"] and p["channel"] == "grid_app" and p["category"] == "labour"
    assert p["grid"] == "WH-01" and p["community"] == "C01" and p["street"] == "WH" and p["district"] == "JH"
    assert p["people_involved"] == 30 and p["summary"] == "厂门口欠薪"
    assert p["location"]["lat"] == body["location"]["lat"] and p["location"]["address"] == "外海大道 1 号"
    assert p["reporter"]["id"] == "gw-1" and p["reporter"]["role"] == "grid_worker"
    assert datetime.fromisoformat(p["occurred_at"]) == datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    assert "欠薪" in p["keywords"]
    # no personal data in the event
    assert "13812345678" not in env.kafka_value().decode() and "张三丰" not in env.kafka_value().decode()
    assert p["requester_ref"].startswith("req-")


async def test_case_numbers_are_sequential_and_unique_under_concurrency(client, runtime):
    async def one(i):
        return await client.post("/api/v1/cases/grid-events", json=grid_event(description=f"并发 {i}"),
                                 headers=worker("WH-01"))
    rs = await asyncio.gather(*(one(i) for i in range(12)))
    assert all(r.status_code == 201 for r in rs), [r.text for r in rs if r.status_code != 201]
    nos = sorted(r.json()["case_no"] for r in rs)
    assert len(set(nos)) == 12
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in nos)
    assert seqs == list(range(seqs[0], seqs[0] + 12))  # no gaps, no repeats
    async with runtime.session_factory() as s:
        last = (await s.execute(select(func.max(case_counters.c.last)))).scalar_one()
    assert last >= seqs[-1]


async def test_bad_input_is_refused_field_by_field_and_nothing_is_written(client, runtime):
    before = await _count(runtime)
    h = worker("WH-01", "WH-02")
    cases_ = [
        (grid_event(grid="WH-99"), 422, "grid"),
        (grid_event(category="astrology"), 422, "category"),
        (grid_event(description="x" * 4001), 422, "description"),
        (grid_event(people_involved=-1), 422, "people_involved"),
        (grid_event(location={"lat": 22.5}), 422, "location"),
        (grid_event(location={"lat": 95, "lon": 113}), 422, "location.lat"),
        (grid_event(parties=[{"name": "李四", "id_card": "110105194912310021"}]), 422, "parties.0.id_card"),
        (grid_event(parties=[{"name": "李四", "phone": "12345"}]), 422, "parties.0.phone"),
        (grid_event(occurred_at="2999-01-01T00:00:00+08:00"), 422, "occurred_at"),
        (grid_event(occurred_at="2026-01-01T00:00:00"), 422, "occurred_at"),
        (grid_event(community="C05"), 422, "community"),
        (grid_event(attachments=["00000000-0000-0000-0000-000000000000"]), 422, "attachments"),
        (grid_event(unknown_field=1), 422, "unknown_field"),
        (grid_event(grade="purple"), 422, "grade"),
    ]
    for body, code, field in cases_:
        r = await client.post("/api/v1/cases/grid-events", json=body, headers=h)
        assert r.status_code == code, (field, r.text)
        err = r.json()
        fields = [f["field"] for f in err["fields"]]
        assert field in fields, (field, err)
        f = err["fields"][fields.index(field)]
        assert f["message_zh"] and f["message_en"] and f["message_zh"] != f["message_en"], f
    r = await client.post("/api/v1/cases/grid-events", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422
    # a worker may not report in someone else's grid; unauthenticated and wrong roles are refused
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-30"), headers=h)
    assert r.status_code == 403 and r.json()["fields"][0]["field"] == "grid"
    assert (await client.post("/api/v1/cases/grid-events", json=grid_event())).status_code == 401
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(), headers={"X-Fengqiao-Identity": "forged"})
    assert r.status_code == 401
    assert (await client.post("/api/v1/cases/grid-events", json=grid_event(), headers=system())).status_code == 403
    r = await client.post("/api/v1/cases/demands", json=grid_event(), headers=system("unknown-app"))
    assert r.status_code == 403
    # oversized body: refused from Content-Length, before it is read
    r = await client.post("/api/v1/cases/grid-events", content=b"x" * 200_000,
                          headers={**h, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "http_413"

    async def chunks():
        for _ in range(50):
            yield b" " * 4096  # no Content-Length: counted while streaming

    r = await client.post("/api/v1/cases/grid-events", content=chunks(), headers={**h, "content-type": "application/json"})
    assert r.status_code == 413
    assert await _count(runtime) == before


async def test_walk_in_petition_by_centre_staff(client):
    body = {"category": "family", "channel": "letter", "description": "来信反映赡养纠纷。",
            "requester": {"name": "欧阳娜娜", "phone": "13900001111", "id_card": "11010519491231002X"},
            "grid": "WH-03"}
    r = await client.post("/api/v1/cases/petitions", json=body, headers=dispatcher())
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["channel"] == "petition" and c["sub_channel"] == "letter" and c["grid"] == "WH-03"
    assert c["parties"][0]["name"] == "欧阳娜娜" and c["parties"][0]["role"] == "requester"
    assert c["parties"][0]["masked"] is False  # dispatchers read personal data
    r = await client.post("/api/v1/cases/petitions", json={**body, "channel": "fax"}, headers=dispatcher())
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "channel"
    r = await client.post("/api/v1/cases/petitions", json=body, headers=worker("WH-03"))
    assert r.status_code == 403


async def test_external_demand_visibility_and_masking(client):
    body = {"category": "urban", "description": "路灯不亮已一周。", "external_ref": "YSS-1",
            "location": {**spot(), "address": "外海大道 8 号"},
            "requester": {"name": "王小明", "phone": "13700001234", "id_card": "11010519491231002X"}}
    r = await client.post("/api/v1/cases/demands", json=body, headers=system("yue-sheng-shi"))
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["channel"] == "external" and c["source_system"] == "yue-sheng-shi" and c["external_ref"] == "YSS-1"
    party = c["parties"][0]
    assert party == {"name": "王**", "phone": "137****1234", "id_card": "1101**********002X", "role": "requester",
                     "masked": True, "id_card_masked": True}
    # the submitting system reads it (masked), by id and by number; another system gets 404
    for ref in (c["id"], c["case_no"]):
        r = await client.get(f"/api/v1/cases/{ref}", headers=system("yue-sheng-shi"))
        assert r.status_code == 200 and r.json()["parties"][0]["masked"] is True
        r = await client.get(f"/api/v1/cases/{ref}", headers=system("yue-shang-tong"))
        assert r.status_code == 404, r.text
    listed = (await client.get("/api/v1/cases", headers=system("yue-shang-tong"), params={"limit": 500})).json()
    assert c["id"] not in [x["id"] for x in listed["items"]]
    listed = (await client.get("/api/v1/cases", headers=system("yue-sheng-shi"), params={"limit": 500})).json()
    assert c["id"] in [x["id"] for x in listed["items"]]
    assert all(x["source_system"] == "yue-sheng-shi" or x["channel"] != "external" for x in listed["items"])
    # the centre reads personal data in full; a leader sees it masked
    full = (await client.get(f"/api/v1/cases/{c['id']}", headers=dispatcher())).json()
    assert full["parties"][0]["phone"] == "13700001234"
    assert full["parties"][0]["id_card"] == "1101**********002X"  # the ID number: masked for the centre too
    leader = (await client.get(f"/api/v1/cases/{c['id']}", headers=identity_headers(roles=["leader"]))).json()
    assert leader["parties"][0]["phone"] == "137****1234"
    # a grid worker of another grid cannot read it
    assert (await client.get(f"/api/v1/cases/{c['id']}", headers=worker("WH-77"))).status_code == 404


async def test_idempotency_key_returns_first_result_even_under_concurrent_retries(client, runtime, key):
    h = {**system("yue-shang-tong"), "Idempotency-Key": key}
    body = {"category": "consumer", "description": "商家拒绝退款。", "location": {**spot()}}
    before = await _count(runtime)
    rs = await asyncio.gather(*(client.post("/api/v1/cases/demands", json=body, headers=h) for _ in range(8)))
    assert sorted(r.status_code for r in rs) == [200] * 7 + [201], [r.text for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1 and len({r.json()["case_no"] for r in rs}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in rs) == 7
    r = await client.post("/api/v1/cases/demands", json=body, headers=h)
    assert r.status_code == 200 and r.json()["id"] == rs[0].json()["id"]
    assert await _count(runtime) == before + 1
    # the same key with another body is a conflict, not a second case
    r = await client.post("/api/v1/cases/demands", json={**body, "description": "另一件事"}, headers=h)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
    # the same key from another caller is another request
    r = await client.post("/api/v1/cases/demands", json=body, headers={**system("gd-gov-service"), "Idempotency-Key": key})
    assert r.status_code == 201 and r.json()["id"] != rs[0].json()["id"]
    assert await _count(runtime) == before + 2


async def test_list_filters_and_grid_worker_scope(client):
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-40", category="health"),
                          headers=worker("WH-40"))
    assert r.status_code == 201
    cid = r.json()["id"]
    mine = (await client.get("/api/v1/cases", headers=worker("WH-40"), params={"grid": "WH-40"})).json()
    assert cid in [x["id"] for x in mine["items"]] and mine["total"] >= 1
    assert all(x["grid"] == "WH-40" for x in mine["items"])
    assert all(x["parties"][0]["masked"] for x in mine["items"] if x["parties"])
    other = (await client.get("/api/v1/cases", headers=worker("WH-41"), params={"limit": 500})).json()
    assert cid not in [x["id"] for x in other["items"]]
    r = await client.get("/api/v1/cases", headers=dispatcher(), params={"offset": 10**21})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "offset"
    r = await client.get("/api/v1/cases", headers=dispatcher(), params={"status": "bogus"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "status"
    r = await client.get("/api/v1/cases", headers=dispatcher(), params={"category": "health", "grid": "WH-40"})
    assert cid in [x["id"] for x in r.json()["items"]]


async def test_regrade_with_reason(client, kafka_bootstrap, probe):
    c = (await client.post("/api/v1/cases/grid-events", json=grid_event(), headers=worker())).json()
    assert c["grade"] == "blue"
    r = await client.post(f"/api/v1/cases/{c['id']}/regrade", json={"grade": "red", "reason": "有人扬言轻生"},
                          headers=dispatcher(sub="d-1"))
    assert r.status_code == 200 and r.json()["grade"] == "red"
    [env] = await probe.wait_for(lambda e: e.topic == "case.regraded" and e.subject == c["id"], timeout=30)
    assert env.data["old_grade"] == "blue" and env.data["new_grade"] == "red" and env.data["reason"] == "有人扬言轻生"
    assert env.data["by"]["id"] == "d-1"
    r = await client.post(f"/api/v1/cases/{c['id']}/regrade", json={"grade": "red", "reason": "again"},
                          headers=dispatcher())
    assert r.status_code == 409
    r = await client.post(f"/api/v1/cases/{c['id']}/regrade", json={"grade": "red"}, headers=dispatcher())
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "reason"
    r = await client.post(f"/api/v1/cases/{c['id']}/regrade", json={"grade": "blue", "reason": "x" * 5},
                          headers=worker())
    assert r.status_code == 403
    tl = (await client.get(f"/api/v1/cases/{c['id']}", headers=dispatcher())).json()["timeline"]
    assert [t["kind"] for t in tl] == ["case.reported", "case.regraded"]


async def test_transfer_to_another_grid(client, kafka_bootstrap, probe):
    c = (await client.post("/api/v1/cases/grid-events", json=grid_event(), headers=worker())).json()
    r = await client.post(f"/api/v1/cases/{c['case_no']}/transfer", json={"grid": "WH-40", "reason": "属于相邻网格"},
                          headers=dispatcher(sub="d-2"))
    assert r.status_code == 200, r.text
    assert (r.json()["grid"], r.json()["community"]) == ("WH-40", "C07") != (c["grid"], c["community"])
    [env] = await probe.wait_for(lambda e: e.topic == "case.transferred" and e.subject == c["id"], timeout=30)
    assert (env.data["from_grid"], env.data["to_grid"], env.data["by"]["id"]) == (c["grid"], "WH-40", "d-2")
    assert env.source == "/fengqiao/intake"
    r = await client.post(f"/api/v1/cases/{c['id']}/transfer", json={"grid": "WH-40", "reason": "again"},
                          headers=dispatcher())
    assert r.status_code == 409 and r.json()["error"] == "same_grid"
    r = await client.post(f"/api/v1/cases/{c['id']}/transfer", json={"grid": "XX-99", "reason": "不存在的网格"},
                          headers=dispatcher())
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "grid"
    r = await client.post(f"/api/v1/cases/{c['id']}/transfer", json={"grid": "WH-41", "reason": "网格员"},
                          headers=worker())
    assert r.status_code == 403
    tl = (await client.get(f"/api/v1/cases/{c['id']}", headers=dispatcher())).json()["timeline"]
    assert [t["kind"] for t in tl] == ["case.reported", "case.transferred"]


async def test_weak_signal_report_is_logged_not_a_case(client, kafka_bootstrap, runtime, key, probe):
    before = await _count(runtime)
    body = {"grid": "WH-05", "category": "labour", "summary": "工厂停工传闻", "description": "工人议论工厂可能停工。",
            "people_involved": 4}
    r = await client.post("/api/v1/weak-signal-reports", json=body,
                          headers={**worker("WH-05", sub="gw-ws"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    [env] = await probe.wait_for(lambda e: e.subject == sid, timeout=30)
    assert env.data["grid"] == "WH-05" and env.data["community"] == "C05" and env.data["category"] == "labour"
    r2 = await client.post("/api/v1/weak-signal-reports", json=body, headers={**worker("WH-05", sub="gw-ws"), "Idempotency-Key": key})
    assert r2.status_code == 200 and r2.json()["id"] == sid
    assert await _count(runtime) == before
    listed = (await client.get("/api/v1/weak-signal-reports", headers=dispatcher())).json()
    assert sid in [x["id"] for x in listed]
    r = await client.post("/api/v1/weak-signal-reports", json={**body, "grid": "WH-06"}, headers=worker("WH-05"))
    assert r.status_code == 403
    r = await client.post("/api/v1/weak-signal-reports", json={**body, "category": "nope"}, headers=worker("WH-05"))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "category"


async def test_catalogue(client):
    r = await client.get("/api/v1/catalogue")
    assert r.status_code == 200
    cat = r.json()
    assert cat["street"]["code"] == "WH" and len(cat["grids"]) == 77 and len(cat["communities"]) == 11
    assert {g["code"]: g["colour"] for g in cat["grades"]}["red"] == "#E53935"
    assert "labour" in [d["code"] for d in cat["domains"]]
    assert len((await client.get("/api/v1/catalogue/grids", params={"community": "C01"})).json()) == 7
    assert (await client.get("/api/v1/catalogue/grids/WH-99")).status_code == 404
    assert len((await client.get("/api/v1/catalogue/departments")).json()) == 12


async def test_csv_export_masks_personal_data(client):
    body = grid_event(grid="WH-44", parties=[{"name": "赵铁柱", "phone": "13611112222", "role": "respondent"}])
    c = (await client.post("/api/v1/cases/grid-events", json=body, headers=worker("WH-44"))).json()
    r = await client.get("/api/v1/cases/export.csv", headers=identity_headers(roles=["leader"]),
                         params={"grid": "WH-44"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("case_no,status,channel")
    row = next(line for line in lines if line.startswith(c["case_no"]))
    assert "赵**" in row and "136****2222" in row and "13611112222" not in text and "赵铁柱" not in text
    full = (await client.get("/api/v1/cases/export.csv", headers=dispatcher(), params={"grid": "WH-44"})).text
    assert "13611112222" in full
    assert (await client.get("/api/v1/cases/export.csv")).status_code == 401


async def test_hostile_input_gives_4xx_never_500(client):
    h = dispatcher()
    for body in (grid_event(description="a\x00b"), grid_event(parties="x"), grid_event(location=[]),
                 grid_event(attachments=[1]), grid_event(title="t\x00"), grid_event(occurred_at="abc"),
                 grid_event(parties=[{"name": "x\x00"}])):
        r = await client.post("/api/v1/cases/grid-events", json=body, headers=h)
        assert r.status_code == 422, r.text
    for path in ("/api/v1/cases/%00", "/api/v1/cases?grid=%00", "/api/v1/attachments/a%00b",
                 "/open311/v2/requests.json?service_code=%00", "/api/v1/cases/" + "x" * 5000):
        r = await client.get(path, headers=h)
        assert r.status_code in (400, 404), (path, r.status_code, r.text)
    r = await client.post("/open311/v2/requests.json", headers=system("gd-gov-service"),
                          data={"service_code": "urban", "lat": "22.5", "long": "113.1", "description": "x",
                                "first_name": "a\x00"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
