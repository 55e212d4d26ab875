"""A department reads its orders from Kafka without our library: the `fengqiao dept listen` command
(printing JSON lines, or forwarding to a URL) and an independent client (confluent-kafka / librdkafka),
both on the department's own topic dept.<code>.orders (the only one its Kafka user may read on a cluster
with ACLs; the embedded broker has none, so here the separation is by topic), which carries the order's
details; the core order.dispatched topic carries none of them."""

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from forward_server import endpoint, signature_ok

FENGQIAO = os.path.join(os.path.dirname(sys.executable), "fengqiao")


async def _two_departments(dispatch) -> tuple[dict, dict]:
    """A labour case: RSS leads, SFS assists."""
    p = await dispatch.report(category="labour", grade="yellow", summary="工资结算争议", description="加班费计算有分歧")
    orders = await dispatch.orders_of(p.case_id, 2)
    by = {o["department"]: o for o in orders}
    assert set(by) == {"RSS", "SFS"}
    return by["RSS"], by["SFS"]


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(FENGQIAO, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


async def test_dept_listen_prints_or_forwards_only_its_departments_orders(dispatch, clock):
    rss, sfs = await _two_departments(dispatch)
    bootstrap = dispatch.settings.kafka_bootstrap_servers
    with endpoint() as ep, tempfile.TemporaryDirectory() as tmp:
        # RSS prints JSON lines (its topic); SFS forwards its orders to a URL, signed; both at once
        (code, out, err), (fcode, _fout, ferr) = await asyncio.gather(
            _cli("dept", "listen", "--department", "RSS", "--bootstrap", bootstrap, "--from-beginning",
                 "--group", f"t-{uuid.uuid4().hex[:8]}", "--idle-timeout", "2"),
            _cli("dept", "listen", "--department", "SFS", "--bootstrap", bootstrap, "--from-beginning",
                 "--forward", ep.url, "--secret", "s3cret", "--dlq", os.path.join(tmp, "dlq.jsonl"),
                 "--group", f"t-{uuid.uuid4().hex[:8]}", "--idle-timeout", "2"),
        )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert events, err
    assert {e["department"] for e in events} == {"RSS"}
    ids = {e["data"]["order_id"] for e in events}
    assert rss["order_id"] in ids and sfs["order_id"] not in ids
    mine = next(e for e in events if e["data"]["order_id"] == rss["order_id"])
    assert mine["type"] == "cn.fengqiao.order.dispatched" and mine["specversion"] == "1.0"
    assert mine["subject"] == rss["case_id"] and mine["kafka"]["key"] == rss["case_id"]
    assert mine["data"]["deadlines"]["sign_for_by"]
    assert mine["data"]["description"] == "加班费计算有分歧" and mine["kafka"]["topic"] == "dept.rss.orders"
    assert {e["kafka"]["topic"] for e in events} == {"dept.rss.orders"}

    assert fcode == 0, ferr
    received = ep.hits
    assert received
    assert {r.event["department"] for r in received} == {"SFS"}
    assert "cn.fengqiao.order.dispatched" in {r.event["type"] for r in received}
    fids = {r.order_id for r in received}
    assert sfs["order_id"] in fids and rss["order_id"] not in fids
    assert all(r.headers["ce-id"] == r.event["id"] == r.headers["X-Fengqiao-Delivery"] for r in received)
    assert all(signature_ok("s3cret", r) for r in received)


def _read_with_librdkafka(bootstrap: str, topic: str, wanted: set[str], timeout: float = 30,
                          department: str | None = None) -> list[dict]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"librdkafka-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "session.timeout.ms": 6000, "max.poll.interval.ms": 10000,
                  "heartbeat.interval.ms": 1000})
    try:
        meta = c.list_topics(topic, timeout=10)
        parts = meta.topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= {f["order_id"] for f in found}:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = {k: v.decode() for k, v in (msg.headers() or [])}
            if department and headers.get("ce_department") != department:  # filter without parsing the body
                continue
            data = json.loads(msg.value())
            found.append({"order_id": data["order_id"], "key": msg.key().decode(), "headers": headers,
                          "department": data["department"], "data": data})
        return found
    finally:
        c.close()


async def test_independent_kafka_client_reads_its_departments_topic_only_its_orders(dispatch, clock):
    rss, sfs = await _two_departments(dispatch)
    bootstrap = dispatch.settings.kafka_bootstrap_servers
    found = await asyncio.to_thread(_read_with_librdkafka, bootstrap, "dept.rss.orders", {rss["order_id"]})
    ids = {f["order_id"] for f in found}
    assert rss["order_id"] in ids and sfs["order_id"] not in ids
    assert {f["department"] for f in found} == {"RSS"}, "no other department's order on RSS's topic"
    assert {f["headers"]["ce_department"] for f in found} == {"RSS"}
    mine = next(f for f in found if f["order_id"] == rss["order_id"])
    assert mine["key"] == rss["case_id"]
    assert mine["headers"]["ce_type"] == "cn.fengqiao.order.dispatched"
    assert mine["headers"]["ce_specversion"] == "1.0" and mine["headers"]["content-type"] == "application/json"
    assert mine["headers"]["ce_source"] == "/fengqiao/dispatch"
    assert mine["data"]["description"] == "加班费计算有分歧" and mine["data"]["summary"] == "工资结算争议"

    # the core topic every service reads: the same order, without its free text, address or coordinates
    core = await asyncio.to_thread(_read_with_librdkafka, bootstrap, "order.dispatched", {rss["order_id"]},
                                   department="RSS")
    public = next(f for f in core if f["order_id"] == rss["order_id"])
    assert public["headers"]["ce_id"] == mine["headers"]["ce_id"]
    assert not {"summary", "description", "location"} & set(public["data"])
    assert {"case_no", "category", "grade", "grid", "deadlines"} <= set(public["data"])
