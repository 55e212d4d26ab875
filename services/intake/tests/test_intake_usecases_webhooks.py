"""Webhooks on in-memory fakes: register/list/delete/deliveries/redeliver and deliver_due with a fake sender."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fengqiao_common.errors import Conflict, Forbidden, Invalid, NotFound
from fengqiao_intake.domain.egress import EgressRefused
from fengqiao_intake.domain.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from fengqiao_intake.domain.webhooks import RetryPolicy
from fengqiao_intake.usecases import webhooks as uc
from fengqiao_intake.usecases.webhook_delivery import deliver_due
from intake_usecase_kit import ADMIN, DISPATCHER, OTHER_SYSTEM, SYSTEM, world

URL = "https://hooks.example.com/in"


async def allow(url: str) -> None:
    if "evil" in url:
        raise EgressRefused("目标地址属于内部网络 / the destination resolves to a non-public address (10.0.0.1)")


async def _register(uow, c, principal=SYSTEM, url=URL, key=None):
    return await uc.register_webhook(uow, principal, url, ctx=c, check_destination=allow, idempotency_key=key)


async def test_register_gives_a_secret_and_is_idempotent():
    uow, c, _ = world()
    first = await _register(uow, c, key="k")
    assert first.created and first.item["secret"].startswith("whsec_") and first.item["active"]
    again = await _register(uow, c, key="k")
    assert not again.created and again.item["id"] == first.item["id"] and len(uow.db.webhooks) == 1
    with pytest.raises(Conflict):
        await _register(uow, c, url=URL + "/other", key="k")


async def test_register_refuses_unregistered_systems_and_forbidden_destinations():
    uow, c, _ = world()
    with pytest.raises(Forbidden):
        await _register(uow, c, principal=DISPATCHER)
    with pytest.raises(Invalid) as err:
        await _register(uow, c, url="https://evil.example.com/")
    assert err.value.fields[0]["code"] == "destination_not_allowed"
    assert "non-public" in err.value.fields[0]["message_en"]
    assert uow.db.webhooks == {}


async def test_list_and_delete_are_scoped_to_the_owning_system():
    uow, c, _ = world()
    mine = (await _register(uow, c)).item
    theirs = (await _register(uow, c, principal=OTHER_SYSTEM)).item
    assert [w["id"] for w in await uc.list_webhooks(uow, SYSTEM)] == [mine["id"]]
    assert {w["id"] for w in await uc.list_webhooks(uow, ADMIN)} == {mine["id"], theirs["id"]}
    with pytest.raises(NotFound):
        await uc.delete_webhook(uow, SYSTEM, theirs["id"])
    await uc.delete_webhook(uow, SYSTEM, mine["id"])
    assert uow.db.webhooks[mine["id"]]["active"] is False and uow.db.webhooks[theirs["id"]]["active"]


def _queue(uow, hook_id: str, did: str = "d1") -> None:
    uow.db.deliveries[did] = {"id": did, "webhook_id": hook_id, "event_id": "n-" + did, "case_id": "c1",
                              "body": '{"id":"n","status":"dispatched"}', "status": "pending", "attempts": 0,
                              "next_attempt_at": uow.now(), "last_status_code": None, "last_error": None,
                              "created_at": uow.now(), "delivered_at": None}


class FakeSender:
    def __init__(self, codes=None, delay: float = 0.0):
        self.codes = list(codes or [200])
        self.sent: list[tuple[str, bytes, dict]] = []
        self.delay = delay
        self.in_flight = self.max_in_flight = 0

    async def send(self, url, body, headers) -> int:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.sent.append((url, body, headers))
            code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
            if isinstance(code, Exception):
                raise code
            return code
        finally:
            self.in_flight -= 1


POLICY = RetryPolicy(max_attempts=3, backoff_base=10, backoff_max=60)


async def _round(uow, sender, **kw) -> int:
    return await deliver_due(lambda: uow, sender=sender, policy=POLICY, lease_seconds=30, clock=uow.clock, **kw)


async def test_deliver_due_signs_sends_and_records_success():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    _queue(uow, hook["id"])
    sender = FakeSender([200])
    assert await _round(uow, sender) == 1
    [(url, body, headers)] = sender.sent
    assert url == URL and headers[DELIVERY_HEADER] == "d1"
    assert verify(hook["secret"], headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER],
                  now=uow.now().timestamp())
    d = uow.db.deliveries["d1"]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("succeeded", 1, 200)
    assert [a["status_code"] for a in uow.db.attempts] == [200]
    assert await _round(uow, sender) == 0  # nothing due any more


async def test_failures_back_off_then_fail_for_good():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    _queue(uow, hook["id"])
    sender = FakeSender([500, ConnectionError("refused"), 503])
    assert await _round(uow, sender) == 1
    d = uow.db.deliveries["d1"]
    assert d["status"] == "pending" and d["last_error"] == "HTTP 500"
    assert d["next_attempt_at"] == uow.now() + timedelta(seconds=10)
    assert await _round(uow, sender) == 0  # not due yet
    uow.clock.advance(timedelta(seconds=10))
    await _round(uow, sender)
    assert uow.db.deliveries["d1"]["last_error"].startswith("ConnectionError")
    uow.clock.advance(timedelta(seconds=20))
    await _round(uow, sender)
    d = uow.db.deliveries["d1"]
    assert (d["status"], d["attempts"]) == ("failed", 3)
    assert [a["attempt"] for a in uow.db.attempts] == [1, 2, 3]


async def test_a_disabled_webhook_fails_without_sending_and_refusals_are_logged():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    _queue(uow, hook["id"], "d1")
    await uc.delete_webhook(uow, SYSTEM, hook["id"])
    sender = FakeSender([EgressRefused("目标地址属于内部网络 / non-public")])
    await _round(uow, sender)
    assert sender.sent == [] and uow.db.deliveries["d1"]["status"] == "failed"
    assert uow.db.deliveries["d1"]["last_error"] == "webhook disabled"
    live = (await _register(uow, c, url=URL + "/2")).item
    _queue(uow, live["id"], "d2")
    await _round(uow, sender)
    assert uow.db.deliveries["d2"]["last_error"].startswith("refused:")


async def test_sends_run_in_parallel_up_to_the_bound():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    for i in range(6):
        _queue(uow, hook["id"], f"d{i}")
    sender = FakeSender([200], delay=0.01)
    assert await _round(uow, sender, concurrency=3) == 6
    assert sender.max_in_flight == 3
    assert {d["status"] for d in uow.db.deliveries.values()} == {"succeeded"}


async def test_an_outcome_after_the_lease_was_lost_is_not_recorded():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    _queue(uow, hook["id"])

    class Overrun(FakeSender):
        async def send(self, url, body, headers):
            # meanwhile the lease ran out and another sender claimed the row
            uow.db.deliveries["d1"]["next_attempt_at"] = uow.now() + timedelta(minutes=5)
            return 200

    await _round(uow, Overrun())
    d = uow.db.deliveries["d1"]
    assert d["status"] == "pending" and d["attempts"] == 0 and uow.db.attempts == []


async def test_deliveries_and_redeliver():
    uow, c, _ = world()
    hook = (await _register(uow, c)).item
    _queue(uow, hook["id"])
    with pytest.raises(Conflict) as err:
        await uc.redeliver(uow, SYSTEM, "d1")
    assert err.value.code == "delivery_pending"
    await _round(uow, FakeSender([200]))
    [d] = await uc.list_deliveries(uow, SYSTEM, hook["id"], limit=10)
    assert d["status"] == "succeeded" and [a["attempt"] for a in d["attempt_log"]] == [1]
    with pytest.raises(NotFound):
        await uc.list_deliveries(uow, OTHER_SYSTEM, hook["id"], limit=10)
    with pytest.raises(NotFound):
        await uc.redeliver(uow, OTHER_SYSTEM, "d1")
    out = await uc.redeliver(uow, SYSTEM, "d1")
    assert out["status"] == "pending" and uow.db.deliveries["d1"]["status"] == "pending"
    await _round(uow, FakeSender([200]))
    assert uow.db.deliveries["d1"]["attempts"] == 2
    with pytest.raises(NotFound):
        await uc.redeliver(uow, SYSTEM, "nope")


async def test_the_pump_keeps_sending_while_a_slow_send_is_in_flight():
    from fengqiao_intake.usecases.webhook_delivery import DeliveryPump

    uow, c, _ = world()
    slow_hook = (await _register(uow, c, url=URL + "/slow")).item
    fast_hook = (await _register(uow, c, url=URL + "/fast")).item
    release = asyncio.Event()

    class Gate(FakeSender):
        async def send(self, url, body, headers):
            if url.endswith("/slow"):
                await release.wait()
            return await super().send(url, body, headers)

    pump = DeliveryPump(lambda: uow, sender=Gate([200]), policy=POLICY, lease_seconds=30, clock=uow.clock,
                        concurrency=2)
    _queue(uow, slow_hook["id"], "slow")
    assert await pump.step() == 1
    _queue(uow, fast_hook["id"], "fast")
    assert await pump.step() == 1  # claimed although the slow send has not finished
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert uow.db.deliveries["fast"]["status"] == "succeeded"
    assert uow.db.deliveries["slow"]["status"] == "pending" and len(pump.in_flight) == 1
    _queue(uow, fast_hook["id"], "fast2")
    _queue(uow, fast_hook["id"], "fast3")
    assert await pump.step() == 1  # one free slot: one claimed, the other stays due
    release.set()
    await pump.drain()
    assert await pump.step() == 1
    await pump.drain()
    assert {d["status"] for d in uow.db.deliveries.values()} == {"succeeded"}
    await pump.close()
