"""Alibaba Cloud SMS (dysmsapi 2017-05-25 ``SendSms``) with the RPC-style signature v1.

The request is a GET with every parameter in the query: the common ones (``AccessKeyId``, ``Action``,
``Format``, ``RegionId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureNonce``, ``SignatureVersion=1.0``,
``Timestamp``, ``Version``) and ``SendSms``'s (``PhoneNumbers``, ``SignName``, ``TemplateCode``,
``TemplateParam`` as JSON, ``OutId``). The signature: the parameters sorted by name, each name and value
percent-encoded (RFC 3986: space ``%20``, ``*`` ``%2A``, ``~`` kept), joined ``k=v&...``; the string to
sign is ``GET&%2F&`` + that string percent-encoded; ``Signature`` = base64(HMAC-SHA1(secret + "&", it)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC
from urllib.parse import quote

import httpx

from fengqiao_common.clock import SYSTEM_CLOCK, Clock

from .provider import SendResult
from .templates import Template

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# answer codes worth retrying later (throttling, the provider's own trouble)
RETRYABLE = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY",
                       "Throttling", "ServiceUnavailable", "InternalError"})


def percent_encode(value: str) -> str:
    return quote(str(value), safe="~")


def string_to_sign(params: dict[str, str], method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(params: dict[str, str], secret: str, method: str = "GET") -> str:
    digest = hmac.new((secret + "&").encode(), string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    name = "aliyun"

    def __init__(self, client: httpx.AsyncClient, *, access_key_id: str, access_key_secret: str, sign_name: str,
                 endpoint: str = DEFAULT_ENDPOINT, region: str = "cn-hangzhou", clock: Clock = SYSTEM_CLOCK,
                 timeout: float = 10.0):
        self.client, self.endpoint, self.region, self.clock, self.timeout = client, endpoint, region, clock, timeout
        self.access_key_id, self._secret, self.sign_name = access_key_id, access_key_secret, sign_name

    def request_params(self, phone: str, template_code: str, params: dict[str, str], *,
                       out_id: str | None = None, nonce: str | None = None) -> dict[str, str]:
        q = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0", "Timestamp": self.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25", "PhoneNumbers": phone, "SignName": self.sign_name,
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
        }
        if out_id:
            q["OutId"] = out_id
        q["Signature"] = sign(q, self._secret)
        return q

    async def send(self, phone: str, template: Template, template_code: str, params: dict[str, str], *,
                   out_id: str | None = None) -> SendResult:
        query = self.request_params(phone, template_code, template.check(params), out_id=out_id)
        try:
            r = await self.client.get(self.endpoint, params=query, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return SendResult(False, code="unreachable", message=repr(exc), retryable=True)
        try:
            body = r.json()
        except ValueError:
            return SendResult(False, code=f"http_{r.status_code}", message=r.text[:200],
                              retryable=r.status_code >= 500)
        code = str(body.get("Code", f"http_{r.status_code}"))
        if code == "OK":
            return SendResult(True, provider_id=body.get("BizId"), code=code, message=body.get("Message", ""))
        return SendResult(False, code=code, message=str(body.get("Message", "")),
                          retryable=code in RETRYABLE or r.status_code >= 500)
