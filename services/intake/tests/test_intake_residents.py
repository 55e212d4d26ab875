"""Residents through the real database and broker: the acceptance SMS (simulator) with the query code,
the public case page and its rating, the result SMS and the follow-up list, an unsolved answer reopening
the case (case.rated with solved/channel, case.reopened), the lookup limit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fengqiao_devstack.testing import eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.order import CaseResolved, OrderVerified
from intake_helpers import dispatcher, grid_event, worker

SRC = "/fengqiao/dispatch"


def _phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


async def _sms(client, phone, template, count=1):
    async def got():
        r = await client.get("/dev/sms.json", params={"phone": phone})
        msgs = [m for m in r.json() if m["template"] == template]
        return msgs if len(msgs) >= count else None
    return await eventually(got, timeout=30)


async def _report(client, phone):
    body = grid_event(parties=[{"name": "赵六", "phone": phone, "role": "requester"},
                               {"name": "钱七", "phone": "13700000000", "role": "respondent"}])
    r = await client.post("/api/v1/cases/grid-events", json=body, headers=worker())
    assert r.status_code == 201, r.text
    return r.json()


async def _detail(client, case):
    return (await client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher())).json()


async def test_acceptance_sms_opens_the_public_page_and_an_unsolved_answer_reopens(client, kafka_bootstrap, probe):
    phone = _phone()
    case = await _report(client, phone)
    [msg] = await _sms(client, phone, "accepted")
    assert msg["params"]["case_no"] == case["case_no"] and case["case_no"] in msg["text"]
    code = msg["params"]["code"]
    assert "钱七" not in msg["text"] and "13700000000" not in str(msg)

    r = await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": code})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status_text"] == "已受理" and not view["can_rate"]
    assert "赵六" not in r.text and phone not in r.text and "噪音" not in r.text
    wrong = await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": "99999999"})
    assert wrong.status_code == 404

    # when they happened: now, after the report and before the rating (a time after the rating would
    # sort the answer's reopening before the resolution it answers)
    at = datetime.now(UTC)
    await publish(kafka_bootstrap,
                  new_envelope(OrderVerified(order_id="o-" + case["id"], case_id=case["id"], department="RSS",
                                             seq=5, at=at), source=SRC),
                  new_envelope(CaseResolved(case_id=case["id"], at=at), source=SRC))
    await _sms(client, phone, "result")

    async def listed():
        r = await client.get("/api/v1/follow-ups", params={"status": "open", "limit": 500}, headers=dispatcher())
        assert r.status_code == 200, r.text
        return next((t for t in r.json()["items"] if t["case_id"] == case["id"]), None)
    task = await eventually(listed, timeout=30)
    assert task["status"] == "open" and task["cycle"] == 0

    async def rateable():
        return (await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": code})).json()["can_rate"]
    await eventually(rateable, timeout=30)
    r = await client.post(f"/api/v1/public/cases/{case['case_no']}/rating",
                          json={"code": code, "rating": "basically_satisfied", "solved": False, "comment": "路灯还是不亮"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reopened", (r.json(), (await _detail(client, case))["timeline"])
    assert (await _detail(client, case))["status"] == "reopened"
    [rated] = await probe.wait_for(lambda e: e.topic == "case.rated" and e.subject == case["id"])
    assert rated.data["solved"] is False and rated.data["channel"] == "public_page"
    await probe.wait_for(lambda e: e.topic == "case.reopened" and e.subject == case["id"])
    r = await client.get("/api/v1/follow-ups", params={"status": "done", "limit": 500}, headers=dispatcher())
    done = next(t for t in r.json()["items"] if t["case_id"] == case["id"])
    assert done["channel"] == "public_page" and done["solved"] is False


async def test_wrong_codes_are_limited_and_the_page_is_served(client):
    phone = _phone()
    case = await _report(client, phone)
    headers = {"x-forwarded-for": "203.0.113.9"}
    statuses = [(await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": "12345678"},
                                  headers=headers)).status_code for _ in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429
    page = await client.get("/c/")
    assert page.status_code == 200 and "案件进度查询" in page.text and "text/html" in page.headers["content-type"]
    r = await client.get("/api/v1/follow-ups", headers=worker())
    assert r.status_code == 403
