"""Sending due webhook deliveries: claim (a lease per row), send in parallel (bounded), log every attempt.

:class:`DeliveryPump` keeps up to ``concurrency`` sends in flight: each :meth:`~DeliveryPump.step`
claims only as many due rows as there are free slots (waiting for one to free when all are busy)
and starts their sends without waiting for them, so a slow receiver holds one slot, for at most one
send's deadline (the sender's job), and never the others.

Each claimed row carries its lease (``next_attempt_at`` moved to now + lease, longer than a send's
deadline); the outcome is stored only while that lease is still the row's, so a sender that overran
its lease (and whose row another sender has claimed since) records nothing, and no row is sent by
two senders at once. Receivers still dedupe by ``X-Fengqiao-Delivery`` (a crash after a send).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from fengqiao_common.clock import Clock

from ..domain.egress import EgressRefused
from ..domain.webhooks import RetryPolicy, after_attempt, signed_headers

log = structlog.get_logger("fengqiao.intake.webhooks")


class Sender(Protocol):
    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POSTs, returns the status code; raises on refusal (EgressRefused), timeout or transport error."""


async def _attempt(sender: Sender, hook: dict | None, delivery: dict, timestamp: int) -> tuple[int | None, str | None]:
    if hook is None or not hook["active"]:
        return None, "webhook disabled"
    body = delivery["body"].encode()
    try:
        code = await sender.send(hook["url"], body, signed_headers(hook["secret"], timestamp, body, delivery["id"]))
    except EgressRefused as exc:
        return None, f"refused: {exc}"
    except Exception as exc:  # timeouts, refused connections, resets: all retried
        return None, (f"{type(exc).__name__}: {exc}"[:500])
    return code, (None if 200 <= code < 300 else f"HTTP {code}")


class DeliveryPump:
    """The webhook worker's state: the sends in flight. ``new_uow()`` gives a unit of work per step."""

    def __init__(self, new_uow: Callable, *, sender: Sender, policy: RetryPolicy, lease_seconds: float,
                 clock: Clock, concurrency: int = 8, batch: int = 20):
        self.new_uow, self.sender, self.policy, self.clock = new_uow, sender, policy, clock
        self.lease_seconds = lease_seconds
        self.concurrency, self.batch = max(1, concurrency), max(1, batch)
        self.in_flight: set[asyncio.Task] = set()

    async def step(self) -> int:
        """Claim due rows for the free slots and start sending them; returns how many were claimed."""
        if len(self.in_flight) >= self.concurrency:
            await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
        free = self.concurrency - len(self.in_flight)
        async with self.new_uow() as uow:
            claimed = await uow.webhooks.claim_due(uow.now(), limit=min(free, self.batch),
                                                   lease_seconds=self.lease_seconds)
            hooks = await uow.webhooks.by_ids({c["webhook_id"] for c in claimed})
            await uow.commit()
        for c in claimed:
            task = asyncio.create_task(self._deliver(c, hooks.get(c["webhook_id"])), name=f"webhook-{c['id']}")
            self.in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhook attempt not recorded", task=task.get_name(), error=repr(task.exception()))

    async def _deliver(self, c: dict, hook: dict | None) -> None:
        attempt = c["attempts"] + 1
        started = time.perf_counter()
        status_code, error = await _attempt(self.sender, hook, c, int(self.clock.now().timestamp()))
        duration = int((time.perf_counter() - started) * 1000)
        async with self.new_uow() as uow:
            values = after_attempt(attempt, ok=error is None, hook_active=bool(hook and hook["active"]),
                                   policy=self.policy, now=uow.now())
            if not await uow.webhooks.finish_attempt(c["id"], lease_until=c["next_attempt_at"], attempt=attempt,
                                                     status_code=status_code, error=error, duration_ms=duration,
                                                     values=values):
                log.warning("webhook lease lost before the outcome was stored", delivery_id=c["id"])
            await uow.commit()

    async def drain(self) -> None:
        """Wait for every send in flight."""
        while self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)

    async def close(self) -> None:
        """Stop: sends in flight are cancelled (their rows are due again when their leases end)."""
        for task in list(self.in_flight):
            task.cancel()
        await self.drain()


async def deliver_due(new_uow: Callable, *, sender: Sender, policy: RetryPolicy, lease_seconds: float,
                      clock: Clock, batch: int = 20, concurrency: int = 8) -> int:
    """One bounded round: claim and send up to ``batch`` due deliveries (``concurrency`` at a time), wait
    for them all; returns how many were claimed."""
    pump = DeliveryPump(new_uow, sender=sender, policy=policy, lease_seconds=lease_seconds, clock=clock,
                        concurrency=concurrency, batch=batch)
    total = 0
    try:
        while total < batch:
            pump.batch = batch - total
            n = await pump.step()
            total += n
            if n == 0:
                break
        await pump.drain()
    finally:
        await pump.close()
    return total
