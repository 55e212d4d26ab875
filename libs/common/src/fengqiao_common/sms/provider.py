"""The interface of an SMS provider client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .templates import Template


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str | None = None  # the provider's id of the message (Alibaba Cloud: BizId)
    code: str = "OK"  # the provider's answer code
    message: str = ""
    retryable: bool = False  # a failure worth retrying later (throttled, the provider unreachable)


class SmsProvider(Protocol):
    name: str

    async def send(self, phone: str, template: Template, template_code: str, params: dict[str, str], *,
                   out_id: str | None = None) -> SendResult:
        """One message from an approved template; ``out_id`` is the caller's idempotent send key (the
        provider echoes it in its receipts). Never raises for a provider's refusal: see ``SendResult``."""
        ...
