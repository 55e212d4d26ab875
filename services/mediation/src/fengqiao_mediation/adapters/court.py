"""The court adapter (司法确认): HTTP client to the court's online platform, and the callback signature.

Requests to the court carry ``Authorization: Bearer <court_api_key>``. The court's callbacks carry
``X-Court-Timestamp`` and ``X-Court-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the
shared ``court_callback_secret``; callbacks older than ``MAX_SKEW`` seconds are refused (replay).

An application (``apply``) carries the agreement PDF (with the signed record bundle attached), the signed
chain-head statement of the day the mediation's last record was sealed (``seal_statement``) and the published
seal keys (``seal_keys``): the court can check the records without our database (docs/mediation-records.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

MAX_SKEW = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None) -> bool:
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now or time.time()) - ts) > MAX_SKEW:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class CourtError(Exception):
    pass


class CourtClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    async def _post(self, path: str, payload: dict) -> dict:
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
                r = await client.post(path, json=payload, headers={"Authorization": f"Bearer {self.api_key}"})
        except httpx.HTTPError as exc:
            raise CourtError(f"court unreachable: {exc!r}") from exc
        if r.status_code >= 300:
            raise CourtError(f"court answered {r.status_code}: {r.text[:300]}")
        return r.json()

    async def apply(self, payload: dict) -> dict:
        """Submit an application; idempotent on ``application_id``. Returns ``{"external_ref", "status"}``."""
        return await self._post("/api/court/applications", payload)

    async def add_material(self, external_ref: str, payload: dict) -> dict:
        return await self._post(f"/api/court/applications/{external_ref}/materials", payload)
