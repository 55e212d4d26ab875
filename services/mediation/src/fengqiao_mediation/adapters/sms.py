"""Sending text messages to parties (one-time codes, deadline reminders).

``DevSmsSender`` keeps every message in memory (``sent``), logs it and, if configured, appends it to a
JSONL file, so a developer or a test can read the code "received" by the party. ``HttpSmsSender`` posts to
an SMS gateway (JSON ``{"phone", "text"}`` with a bearer token). Codes are never returned by the API.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import structlog
from fengqiao_common.clock import SYSTEM_CLOCK

log = structlog.get_logger("fengqiao.mediation.sms")


@dataclass
class SmsMessage:
    phone: str
    text: str
    purpose: str
    ref: str | None = None
    at: str = field(default_factory=lambda: SYSTEM_CLOCK.now().isoformat())


class SmsSender(Protocol):
    async def send(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None: ...


class DevSmsSender:
    def __init__(self, file: Path | None = None):
        self.file = file
        self.sent: list[SmsMessage] = []

    async def send(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None:
        msg = SmsMessage(phone, text, purpose, ref)
        self.sent.append(msg)
        log.info("sms (development sender, not delivered)", phone=phone, purpose=purpose, ref=ref, text=text)
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(msg), ensure_ascii=False) + "\n")


class HttpSmsSender:
    def __init__(self, url: str, token: str | None, timeout: float = 10.0):
        self.url, self.token, self.timeout = url, token, timeout

    async def send(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            r = await client.post(self.url, json={"phone": phone, "text": text, "purpose": purpose, "ref": ref},
                                  headers=headers)
            r.raise_for_status()


def make_sender(settings) -> SmsSender:
    if settings.sms_provider == "http":
        if not settings.sms_http_url:
            raise ValueError("MEDIATION_SMS_HTTP_URL is required when MEDIATION_SMS_PROVIDER=http")
        return HttpSmsSender(settings.sms_http_url, settings.sms_http_token)
    return DevSmsSender(settings.sms_dev_file)
