"""Forwarding a department's orders to its own URL (``fengqiao dept listen --forward``): signed POSTs,
retries with backoff, and a local dead-letter file for what cannot be delivered.

Signatures are those of intake's webhooks: HMAC-SHA256 over ``<timestamp>.<body>`` as
``sha256=<hex>`` in ``X-Fengqiao-Signature``, the unix timestamp in ``X-Fengqiao-Timestamp``,
``X-Fengqiao-Delivery`` the CloudEvents id (the same on every retry: receivers deduplicate on it)
and ``X-Fengqiao-Event`` the event type. A receiver checks the timestamp is fresh and compares the
signature in constant time.

Retried: connection errors and timeouts, 408, 429 and 5xx (``Retry-After`` is honoured up to the
backoff cap). Any other answer but 2xx will not get better by retrying: it is dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fengqiao_common.clock import SYSTEM_CLOCK, Clock

SIGNATURE_HEADER = "X-Fengqiao-Signature"
TIMESTAMP_HEADER = "X-Fengqiao-Timestamp"
DELIVERY_HEADER = "X-Fengqiao-Delivery"
EVENT_HEADER = "X-Fengqiao-Event"
USER_AGENT = "Fengqiao-Dept-Forward/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(self.backoff_max, float(retry_after)))
        return delay


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None


class Forwarder:
    """POSTs events to one URL, retrying what may succeed later."""

    def __init__(self, url: str, *, secret: str | None = None, policy: RetryPolicy = RetryPolicy(),
                 client: httpx.AsyncClient, clock: Clock = SYSTEM_CLOCK,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.url, self.secret, self.policy, self.client = url, secret, policy, client
        self.clock, self.sleep = clock, sleep

    def headers(self, event: dict, body: bytes) -> dict[str, str]:
        h = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
             "ce-id": str(event.get("id", "")), "ce-type": str(event.get("type", "")),
             DELIVERY_HEADER: str(event.get("id", "")), EVENT_HEADER: str(event.get("type", ""))}
        if self.secret:
            ts = int(self.clock.now().timestamp())
            h[SIGNATURE_HEADER] = sign(self.secret, ts, body)
            h[TIMESTAMP_HEADER] = str(ts)
        return h

    async def deliver(self, event: dict) -> Outcome:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            retry_after = None
            try:
                r = await self.client.post(self.url, content=body, headers=self.headers(event, body))
            except httpx.HTTPError as exc:
                status, error = None, repr(exc)
            else:
                if 200 <= r.status_code < 300:
                    return Outcome(True, attempt, r.status_code)
                status, error = r.status_code, f"HTTP {r.status_code}"
                if not retryable(r.status_code):
                    return Outcome(False, attempt, status, error)
                retry_after = r.headers.get("retry-after")
            if attempt < self.policy.max_attempts:
                await self.sleep(self.policy.delay(attempt, retry_after))
        return Outcome(False, self.policy.max_attempts, status, error)


class DeadLetterFile:
    """Undeliverable events, one JSON line each (the event plus a ``dead_letter`` object saying why),
    appended and synced to disk before the record's offset is committed."""

    def __init__(self, path: str | Path, *, clock: Clock = SYSTEM_CLOCK):
        self.path, self.clock = Path(path), clock

    def write(self, event: dict, outcome: Outcome, url: str) -> None:
        line = json.dumps({**event, "dead_letter": {
            "url": url, "attempts": outcome.attempts, "status": outcome.status, "error": outcome.error,
            "at": self.clock.now().isoformat()}}, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
