"""Sending due webhook deliveries: claim (a lease per row), send in parallel (bounded), log every attempt.

Each claimed row carries its lease (``next_attempt_at`` moved to now + lease); the outcome is stored
only while that lease is still the row's, so a sender that overran its lease (and whose row another
sender has claimed since) records nothing. Each send has a total deadline shorter than the lease
(``sender``'s job), so in practice no row goes twice; receivers dedupe by ``X-Fengqiao-Delivery``.
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


async def deliver_due(new_uow: Callable, *, sender: Sender, policy: RetryPolicy, lease_seconds: float,
                      clock: Clock, batch: int = 20, concurrency: int = 8) -> int:
    """One round: returns the number of deliveries claimed (the worker goes again at once when > 0)."""
    async with new_uow() as uow:
        claimed = await uow.webhooks.claim_due(uow.now(), limit=batch, lease_seconds=lease_seconds)
        hooks = await uow.webhooks.by_ids({c["webhook_id"] for c in claimed})
        await uow.commit()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(c: dict) -> None:
        async with gate:
            hook = hooks.get(c["webhook_id"])
            attempt = c["attempts"] + 1
            started = time.perf_counter()
            status_code, error = await _attempt(sender, hook, c, int(clock.now().timestamp()))
            duration = int((time.perf_counter() - started) * 1000)
            async with new_uow() as uow:
                values = after_attempt(attempt, ok=error is None, hook_active=bool(hook and hook["active"]),
                                       policy=policy, now=uow.now())
                await uow.webhooks.finish_attempt(c["id"], lease_until=c["next_attempt_at"], attempt=attempt,
                                                  status_code=status_code, error=error, duration_ms=duration,
                                                  values=values)
                await uow.commit()

    for c, outcome in zip(claimed, await asyncio.gather(*(one(c) for c in claimed), return_exceptions=True),
                          strict=True):
        if isinstance(outcome, BaseException):
            log.warning("webhook attempt not recorded", delivery_id=c["id"], error=repr(outcome))
    return len(claimed)
