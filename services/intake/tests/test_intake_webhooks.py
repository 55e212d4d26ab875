"""Webhooks against a local HTTP receiver on a free port: signature, retry with backoff, attempt log,
redelivery, SSRF refusals."""

import asyncio
import contextlib
import json
import time

import pytest
import uvicorn
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.order import CaseResolved, DepartmentCheckedIn, OrderDispatched
from fengqiao_intake.adapters.orm import webhooks
from fengqiao_intake.domain.signing import verify
from intake_helpers import dispatcher, spot, system
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Receiver:
    def __init__(self):
        self.port = free_port()
        self.received: list[dict] = []
        self.replies: list[int] = []  # status codes to answer with, then 200

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.received.append({"path": request.url.path, "headers": dict(request.headers), "body": body,
                              "at": time.monotonic()})
        return Response(status_code=self.replies.pop(0) if self.replies else 200)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
async def receiver():
    rcv = Receiver()
    app = Starlette(routes=[Route("/{path:path}", rcv.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=rcv.port, log_level="warning", lifespan="off",
                                          timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10)
    yield rcv
    server.should_exit = True
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 5)


def _dispatch(case, order_id, seconds):
    from datetime import datetime, timedelta

    at = datetime.fromisoformat(case["reported_at"]) + timedelta(seconds=seconds)
    return OrderDispatched(order_id=order_id, case_id=case["id"], department="ZFB", seq=1, at=at,
                           department_name="执法办", level="street", role="lead", category=case["category"],
                           grade=case["grade"], summary="s", description="d")


async def _register(client, sys_code, url):
    r = await client.post("/api/v1/webhooks", json={"url": url}, headers=system(sys_code))
    assert r.status_code == 201, r.text
    return r.json()


async def _deliveries(client, sys_code, hook_id):
    r = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=system(sys_code))
    assert r.status_code == 200
    return r.json()


async def test_status_changes_are_posted_signed_and_only_to_the_requesting_system(client, kafka_bootstrap, receiver):
    hook = await _register(client, "gd-gov-service", receiver.url + "/gov")
    assert hook["secret"].startswith("whsec_") and hook["external_system"] == "gd-gov-service"
    other = await _register(client, "yue-shang-tong", receiver.url + "/yst")
    listed = (await client.get("/api/v1/webhooks", headers=system("gd-gov-service"))).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    case = (await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "井盖缺失",
                                                             "location": spot()},
                              headers=system("gd-gov-service"))).json()
    await publish(kafka_bootstrap, new_envelope(_dispatch(case, "o-w1", 1), source="/fengqiao/dispatch"))

    def got():
        return [x for x in receiver.received if x["path"] == "/gov" and json.loads(x["body"])["case_id"] == case["id"]]
    [delivery] = await eventually(got, timeout=30)
    h = delivery["headers"]
    body = json.loads(delivery["body"])
    assert body["type"] == "case.status_changed" and body["status"] == "dispatched"
    assert body["previous_status"] == "reported" and body["case_no"] == case["case_no"]
    assert body["open311_status"] == "open"
    assert verify(hook["secret"], h["x-fengqiao-timestamp"], delivery["body"], h["x-fengqiao-signature"],
                  now=time.time())
    assert not verify(other["secret"], h["x-fengqiao-timestamp"], delivery["body"], h["x-fengqiao-signature"],
                      now=time.time())
    assert h["x-fengqiao-delivery"] and h["x-fengqiao-event"] == "case.status_changed"
    # the other system's hook never hears of this case
    assert not [x for x in receiver.received if x["path"] == "/yst" and case["id"] in x["body"].decode()]
    # a second change; a timeline-only event sends nothing
    await publish(kafka_bootstrap, new_envelope(DepartmentCheckedIn(order_id="o-w1", case_id=case["id"],
                                                                    department="ZFB", seq=2, officer="x",
                                                                    at=_dispatch(case, "o", 2).at),
                                                source="/fengqiao/dispatch"))
    await eventually(lambda: len(got()) == 2, timeout=30)
    assert json.loads(got()[1]["body"])["status"] == "on_site"

    async def both_succeeded():
        ds = [d for d in await _deliveries(client, "gd-gov-service", hook["id"]) if d["case_id"] == case["id"]]
        return ds if len(ds) == 2 and {d["status"] for d in ds} == {"succeeded"} else None
    mine = await eventually(both_succeeded, timeout=30)
    assert all(d["attempt_log"][0]["status_code"] == 200 for d in mine)
    # one system cannot read another's hooks
    assert (await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=system("yue-shang-tong"))).status_code == 404


async def test_failed_delivery_is_retried_with_backoff_logged_and_redeliverable(client, kafka_bootstrap, receiver,
                                                                                runtime):
    hook = await _register(client, "yue-sheng-shi", receiver.url + "/retry")
    case = (await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "路面塌陷",
                                                             "location": spot()}, headers=system())).json()
    receiver.replies[:] = [500, 503]
    await publish(kafka_bootstrap, new_envelope(_dispatch(case, "o-w2", 1), source="/fengqiao/dispatch"))

    async def succeeded():
        ds = [d for d in await _deliveries(client, "yue-sheng-shi", hook["id"]) if d["case_id"] == case["id"]]
        return ds if ds and ds[0]["status"] == "succeeded" else None
    [d] = await eventually(succeeded, timeout=30)
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 503, 200]
    assert d["attempts"] == 3 and d["attempt_log"][0]["error"] == "HTTP 500"
    hits = [x for x in receiver.received if x["path"] == "/retry" and case["id"] in x["body"].decode()]
    assert len(hits) == 3
    assert len({x["headers"]["x-fengqiao-delivery"] for x in hits}) == 1  # same delivery id: receivers dedupe
    # exponential backoff (base 0.2 s here): a retry is never sent before its delay has passed
    assert hits[1]["at"] - hits[0]["at"] >= 0.19 and hits[2]["at"] - hits[1]["at"] >= 0.39
    # redelivery on request
    r = await client.post(f"/api/v1/webhooks/deliveries/{d['id']}/redeliver", headers=system())
    assert r.status_code == 200 and r.json()["status"] == "pending"
    await eventually(lambda: len([x for x in receiver.received if x["path"] == "/retry"
                                  and case["id"] in x["body"].decode()]) == 4, timeout=30)
    r = await client.post(f"/api/v1/webhooks/deliveries/{d['id']}/redeliver", headers=system("yue-shang-tong"))
    assert r.status_code == 404
    # a destination that keeps failing ends as failed after the configured attempts (3 here)
    receiver.replies[:] = [500] * 10
    await publish(kafka_bootstrap, new_envelope(CaseResolved(case_id=case["id"], at=_dispatch(case, "o", 5).at),
                                                source="/fengqiao/dispatch"))

    async def failed():
        ds = [x for x in await _deliveries(client, "yue-sheng-shi", hook["id"])
              if x["case_id"] == case["id"] and x["status"] == "failed"]
        return ds
    [f] = await eventually(failed, timeout=30)
    assert f["attempts"] == 3 and [a["status_code"] for a in f["attempt_log"]] == [500, 500, 500]
    receiver.replies.clear()
    # deleting the hook stops deliveries
    assert (await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=system())).status_code == 204
    async with runtime.session_factory() as s:
        assert (await s.execute(webhooks.select().where(webhooks.c.id == hook["id"]))).mappings().one()["active"] is False
    await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=system())


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/hook",  # private, not on the allow-list
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://example.org/hook",  # not on the allow-list
    "ftp://127.0.0.1/hook",
    "http://user:pw@127.0.0.1/hook",
    "not a url",
])
async def test_destinations_the_operator_has_not_allowed_are_refused(client, url):
    r = await client.post("/api/v1/webhooks", json={"url": url}, headers=system())
    assert r.status_code == 422, r.text
    f = r.json()["fields"][0]
    assert f["field"] == "url" and f["message_zh"] and f["message_en"]


async def test_private_address_refused_at_send_time_too(client, kafka_bootstrap, runtime, receiver):
    """A host allowed by name that resolves to a private address not explicitly allowed is refused
    (the check runs again before every send, so a changed DNS answer cannot reach internal hosts)."""
    hook = await _register(client, "yue-sheng-shi", f"http://localhost:{receiver.port}/ssrf")
    async with runtime.session_factory() as s, s.begin():  # simulate the host now resolving elsewhere
        await s.execute(update(webhooks).where(webhooks.c.id == hook["id"]).values(
            url=f"http://127.0.0.2:{receiver.port}/ssrf"))
    case = (await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "x",
                                                             "location": spot()}, headers=system())).json()
    await publish(kafka_bootstrap, new_envelope(_dispatch(case, "o-w3", 1), source="/fengqiao/dispatch"))

    async def refused():
        ds = [d for d in await _deliveries(client, "yue-sheng-shi", hook["id"]) if d["case_id"] == case["id"]]
        return ds if ds and ds[0]["attempts"] >= 1 else None
    [d] = await eventually(refused, timeout=30)
    assert d["attempt_log"][0]["error"].startswith("refused")
    assert not [x for x in receiver.received if x["path"] == "/ssrf"]
    await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=system())


async def test_only_external_systems_manage_webhooks(client):
    assert (await client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1/x"}, headers=dispatcher())).status_code == 403
    assert (await client.get("/api/v1/webhooks")).status_code == 401


async def test_register_is_idempotent_with_a_key(client, receiver):
    h = {**system("gd-gov-service", sub="key-idem"), "Idempotency-Key": "hook-1"}
    rs = await asyncio.gather(*(client.post("/api/v1/webhooks", json={"url": receiver.url + "/idem"}, headers=h)
                                for _ in range(5)))
    assert sorted(r.status_code for r in rs) == [200] * 4 + [201], [r.text for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1 and len({r.json()["secret"] for r in rs}) == 1
    r = await client.post("/api/v1/webhooks", json={"url": receiver.url + "/other"}, headers=h)
    assert r.status_code == 409
    await client.delete(f"/api/v1/webhooks/{rs[0].json()['id']}", headers=h)


async def test_merged_case_notifies_every_requester(client, kafka_bootstrap, receiver):
    hook_a = await _register(client, "yue-sheng-shi", receiver.url + "/merge-a")
    hook_b = await _register(client, "yue-shang-tong", receiver.url + "/merge-b")
    loc = spot()
    a = (await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "河道漂浮垃圾",
                                                          "location": loc}, headers=system("yue-sheng-shi"))).json()
    b = (await client.post("/api/v1/cases/demands", json={"category": "urban", "description": "河里很多垃圾",
                                                          "location": loc}, headers=system("yue-shang-tong"))).json()
    assert b["duplicate_of"] == a["id"]
    r = await client.post(f"/api/v1/cases/{b['id']}/merge", json={"into": a["id"]}, headers=dispatcher())
    assert r.status_code == 200

    def bodies(path):
        return [json.loads(x["body"]) for x in receiver.received if x["path"] == path]
    # B's system hears that its case was merged, and into which case
    [merged] = await eventually(lambda: [m for m in bodies("/merge-b") if m["case_id"] == b["id"]], timeout=30)
    assert merged["status"] == "merged" and merged["merged_into_case_no"] == a["case_no"]
    assert merged["open311_status"] == "closed"
    # from now on, both requesters hear of the surviving case
    await publish(kafka_bootstrap, new_envelope(_dispatch(a, "o-merge", 1), source="/fengqiao/dispatch"))
    await eventually(lambda: [m for m in bodies("/merge-a") if m["case_id"] == a["id"] and m["status"] == "dispatched"]
                     and [m for m in bodies("/merge-b") if m["case_id"] == a["id"] and m["status"] == "dispatched"],
                     timeout=30)
    for h, code in ((hook_a, "yue-sheng-shi"), (hook_b, "yue-shang-tong")):
        await client.delete(f"/api/v1/webhooks/{h['id']}", headers=system(code))
