"""Two reports of the same broken street lamp by different people: proposed as duplicates, listed with a
text score, confirmed (merged: case.merged, the second requester told by SMS); a rejected one is cleared."""

from __future__ import annotations

from intake_helpers import dispatcher, grid_event, spot, worker
from test_intake_residents import _phone, _sms


async def _lamp(client, where, phone, text):
    body = grid_event(category="urban", title=None, description=text, location={**where, "address": "外海大道12号"},
                      parties=[{"name": "居民", "phone": phone, "role": "requester"}])
    r = await client.post("/api/v1/cases/grid-events", json=body, headers=worker())
    assert r.status_code == 201, r.text
    return r.json()


async def _listed(client, case_id):
    r = await client.get("/api/v1/duplicates", params={"limit": 500}, headers=dispatcher())
    assert r.status_code == 200, r.text
    return next((x for x in r.json()["items"] if x["id"] == case_id), None)


async def test_two_lamp_reports_are_proposed_confirmed_and_merged(client, probe):
    where, p1, p2 = spot(), _phone(), _phone()
    a = await _lamp(client, where, p1, "外海大道12号路口的路灯坏了，晚上一片漆黑，行人经过很危险。")
    b = await _lamp(client, where, p2, "外海大道12号路口路灯不亮好几天了，晚上很黑，希望尽快维修。")
    assert b["duplicate_flagged"]
    item = await _listed(client, b["id"])
    assert item["candidate_id"] == a["id"] and item["likely"] and item["similarity"] > 0.25
    assert (await client.get("/api/v1/duplicates", headers=worker())).status_code == 403
    r = await client.post(f"/api/v1/duplicates/{b['id']}/confirm", json={"reason": "同一路灯"}, headers=dispatcher())
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "confirmed"
    [merged] = await probe.wait_for(lambda e: e.topic == "case.merged" and e.subject == b["id"])
    assert merged.data["into_case_id"] == a["id"]
    [msg] = await _sms(client, p2, "duplicate")
    assert a["case_no"] in msg["text"] and b["case_no"] in msg["text"]
    assert await _listed(client, b["id"]) is None
    again = await client.post(f"/api/v1/duplicates/{b['id']}/confirm", headers=dispatcher())
    assert again.status_code == 404


async def test_a_rejected_proposal_leaves_the_list(client):
    where = spot()
    await _lamp(client, where, _phone(), "外海大道12号路口的路灯坏了，晚上一片漆黑。")
    c = await _lamp(client, where, _phone(), "小区门口有个井盖丢了，很危险。")
    item = await _listed(client, c["id"])
    assert item is not None and not item["likely"]
    r = await client.post(f"/api/v1/duplicates/{c['id']}/reject", headers=dispatcher())
    assert r.status_code == 200 and r.json()["decision"] == "rejected"
    assert await _listed(client, c["id"]) is None
    detail = (await client.get(f"/api/v1/cases/{c['id']}", headers=dispatcher())).json()
    assert detail["duplicate_of"] is None and detail["status"] != "merged"
