"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``, hex, in ``X-Fengqiao-Signature``.

The timestamp (unix seconds, ``X-Fengqiao-Timestamp``) is inside the signed material, so an old
delivery replayed later fails the receiver's freshness check, and ``X-Fengqiao-Delivery`` (the
delivery id) lets it drop a delivery it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Fengqiao-Signature"
TIMESTAMP_HEADER = "X-Fengqiao-Timestamp"
DELIVERY_HEADER = "X-Fengqiao-Delivery"
EVENT_HEADER = "X-Fengqiao-Event"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float,
           tolerance: int = TOLERANCE_S) -> bool:
    """What a receiver does: fresh timestamp and a matching signature (constant-time compare)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Delay before attempt ``attempt + 1`` after ``attempt`` failures: base · 2^(attempt-1), capped."""
    return min(cap, base * 2 ** max(0, attempt - 1))
