"""``fengqiao dept listen --forward`` (issue #14): signed POSTs, retries of 408/429/5xx with backoff,
dead letters in a local file after N attempts, and offsets never committed past an undelivered order.
Against a real local HTTP server; the listener tests also against the real broker."""

import asyncio
import io
import socket
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fengqiao_dispatch.adapters.forwarding import DeadLetterFile, Forwarder, Outcome, RetryPolicy, retryable
from fengqiao_dispatch.cli import listen
from forward_server import endpoint, signature_ok

SECRET = "dept-secret"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)


def event(order_id: str) -> dict:
    return {"id": str(uuid.uuid4()), "type": "cn.fengqiao.order.dispatched", "specversion": "1.0",
            "data": {"order_id": order_id, "department": "ZFB", "note": "中文"}}


async def test_retryable_answers_are_retried_until_delivered_and_every_post_is_signed():
    assert [s for s in (400, 401, 404, 408, 409, 422, 429, 500, 502, 503) if retryable(s)] == [408, 429, 500, 502, 503]
    with endpoint() as ep:
        ep.script["o-1"] = [503, 429, 408, 500, 202]
        async with httpx.AsyncClient(timeout=5) as client:
            fw = Forwarder(ep.url, secret=SECRET, policy=RetryPolicy(5, 0.01, 0.05), client=client)
            e = event("o-1")
            assert await fw.deliver(e) == Outcome(True, 5, 202)
    hits = ep.of("o-1")
    assert [h.status for h in hits] == [503, 429, 408, 500, 202]
    assert all(signature_ok(SECRET, h) for h in hits)
    assert {h.headers["X-Fengqiao-Delivery"] for h in hits} == {e["id"]}  # the same delivery id every time
    assert {h.headers["X-Fengqiao-Event"] for h in hits} == {"cn.fengqiao.order.dispatched"}
    assert hits[0].event == e
    forged = hits[0].__class__(hits[0].order_id, 0, dict(hits[0].headers), hits[0].body.replace("中文".encode(), b"x"))
    assert not signature_ok(SECRET, forged)


async def test_what_cannot_be_delivered_is_given_up_with_the_reason():
    with endpoint() as ep:
        ep.script.update({"always-5xx": [502], "refused": [422]})
        async with httpx.AsyncClient(timeout=5) as client:
            fw = Forwarder(ep.url, secret=SECRET, policy=FAST, client=client)
            assert await fw.deliver(event("always-5xx")) == Outcome(False, 3, 502, "HTTP 502")
            assert await fw.deliver(event("refused")) == Outcome(False, 1, 422, "HTTP 422")  # no retry helps
            with socket.socket() as s:  # a port nobody listens on
                s.bind(("127.0.0.1", 0))
                closed = f"http://127.0.0.1:{s.getsockname()[1]}/x"
            away = await Forwarder(closed, policy=FAST, client=client).deliver(event("away"))
    assert not away.delivered and away.attempts == 3 and away.status is None and "Connect" in away.error
    assert len(ep.of("always-5xx")) == 3 and len(ep.of("refused")) == 1


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after():
    p = RetryPolicy(8, 0.5, 8.0)
    assert [p.delay(a) for a in range(1, 7)] == [0.5, 1, 2, 4, 8, 8]
    assert p.delay(1, "3") == 3 and p.delay(1, "60") == 8 and p.delay(3, "x") == 2


async def _case_order(dispatch, department: str = "ZFB") -> dict:
    p = await dispatch.report(category="urban", grade="blue", summary="占道经营", description="夜市摊位占道")
    orders = await dispatch.orders_of(p.case_id, 2)
    return next(o for o in orders if o["department"] == department)


async def committed(bootstrap: str, group: str, partition: int) -> int | None:
    """The group's committed position on an order.dispatched partition (read without joining it)."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        return await c.committed(TopicPartition("order.dispatched", partition))
    finally:
        await c.stop()


def _listen(ep, group: str, dlq, **kw):
    return listen("ZFB", kw.pop("bootstrap"), forward=ep.url, from_beginning=True, topics=["order.dispatched"],
                  group=group, idle_timeout=kw.pop("idle", 2.0), secret=SECRET, retry=kw.pop("retry", FAST),
                  dlq=str(dlq), out=io.StringIO(), **kw)


async def test_listener_delivers_after_retries_dead_letters_after_n_attempts_and_commits_both(dispatch, clock,
                                                                                            tmp_path):
    flaky, broken = await _case_order(dispatch), await _case_order(dispatch)
    bootstrap, group, dlq = dispatch.settings.kafka_bootstrap_servers, f"t-fwd-{uuid.uuid4().hex[:8]}", tmp_path / "d"
    with endpoint() as ep:
        ep.script[flaky["order_id"]] = [503, 429, 202]
        ep.script[broken["order_id"]] = [500]
        assert await _listen(ep, group, dlq, bootstrap=bootstrap) >= 2
        assert [h.status for h in ep.of(flaky["order_id"])] == [503, 429, 202]
        assert [h.status for h in ep.of(broken["order_id"])] == [500, 500, 500]
        assert all(signature_ok(SECRET, h) for h in ep.hits)
        assert {h.event["data"]["department"] for h in ep.hits} == {"ZFB"}
        [dead] = [d for d in DeadLetterFile(dlq).read() if d["data"]["order_id"] in (flaky["order_id"],
                                                                                   broken["order_id"])]
        assert dead["data"]["order_id"] == broken["order_id"]
        assert dead["dead_letter"] | {"at": None} == {"url": ep.url, "attempts": 3, "status": 500,
                                                      "error": "HTTP 500", "at": None}
    # delivered and dead-lettered records are both committed: the group does not read them again
    for hit in (ep.of(flaky["order_id"])[-1], ep.of(broken["order_id"])[-1]):
        k = hit.event["kafka"]
        assert await committed(bootstrap, group, k["partition"]) > k["offset"]


async def test_an_undelivered_order_is_never_committed(dispatch, clock, tmp_path):
    order = await _case_order(dispatch)
    oid = order["order_id"]
    bootstrap, group, dlq = dispatch.settings.kafka_bootstrap_servers, f"t-fwd-{uuid.uuid4().hex[:8]}", tmp_path / "d"
    with endpoint() as ep:
        ep.script[oid] = [503]  # away for as long as the first listener runs
        task = asyncio.ensure_future(_listen(ep, group, dlq, bootstrap=bootstrap, idle=30,
                                             retry=RetryPolicy(10_000, 0.01, 0.05)))
        for _ in range(600):
            if len(ep.of(oid)) >= 3 or task.done():
                break
            await asyncio.sleep(0.05)
        assert len(ep.of(oid)) >= 3 and not task.done()
        task.cancel()  # stopped (SIGTERM) while still retrying
        with pytest.raises(asyncio.CancelledError):
            await task
        k = ep.of(oid)[0].event["kafka"]
        assert (await committed(bootstrap, group, k["partition"]) or 0) <= k["offset"]
        ep.script[oid] = [202]  # back
        # (a new member of the group waits ~20 s on Tansu for the stopped one to expire)
        await _listen(ep, group, dlq, bootstrap=bootstrap, idle=1.5)
    assert [h.status for h in ep.of(oid)][-1] == 202  # the same group got it again, and delivered it
    assert not [d for d in DeadLetterFile(dlq).read() if d["data"]["order_id"] == oid]
