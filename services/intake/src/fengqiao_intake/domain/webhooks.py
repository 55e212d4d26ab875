"""Status-change webhooks (pure): the notification body, the signed headers, the retry decision."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from .open311 import spec_status, w3c
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, backoff_seconds, sign

EVENT_TYPE = "case.status_changed"


def status_changed_body(notification_id: str, case: dict, old: str, new: str, *, at: datetime, note: str,
                        merged_into_case_no: str | None) -> str:
    """The body every receiver gets (no personal data)."""
    return json.dumps({
        "id": notification_id, "type": EVENT_TYPE, "case_id": case["id"], "case_no": case["case_no"],
        "status": new, "previous_status": old, "open311_status": spec_status(new), "at": w3c(at),
        "note": note, "merged_into_case_no": merged_into_case_no,
    }, ensure_ascii=False, separators=(",", ":"))


def signed_headers(secret: str, timestamp: int, body: bytes, delivery_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: EVENT_TYPE,
        "User-Agent": "Fengqiao-Webhooks/1",
    }


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base: float
    backoff_max: float


def after_attempt(attempt: int, *, ok: bool, hook_active: bool, policy: RetryPolicy, now: datetime) -> dict:
    """The delivery's new state after attempt number ``attempt``: succeeded, failed for good, or due again."""
    if ok:
        return {"status": "succeeded", "delivered_at": now}
    if attempt >= policy.max_attempts or not hook_active:
        return {"status": "failed"}
    delay = backoff_seconds(attempt, policy.backoff_base, policy.backoff_max)
    return {"next_attempt_at": now + timedelta(seconds=delay)}
