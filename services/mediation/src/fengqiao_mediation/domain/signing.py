"""Signing a session record: one-time codes, signature images, who signs. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac

from fengqiao_common.errors import DomainError, Invalid, field_error, invalid

OTP_PER_TTL = 3  # one-time codes a party may be sent per record within one code lifetime


class TooManyCodes(DomainError):
    """Too many one-time codes were sent for this record and party within one code lifetime."""

    kind = "too_many_requests"
    default_code = "too_many_codes"

    def __init__(self) -> None:
        super().__init__("验证码发送过于频繁，请稍后再试", "too many codes sent; use the last one or try again later")


def code_hash(secret: str, otp_id: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{otp_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(secret: str, otp: dict, code: str) -> bool:
    return hmac.compare_digest(otp["code_hash"], code_hash(secret, otp["id"], code))


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def unknown_party():
    return invalid("party_id", "不是本案当事人", "not a party of this mediation", "unknown_party", loc=["party_id"])


def decode_image(b64: str) -> bytes:
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        data = b""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise invalid("image_base64", "签名图片须为 PNG 或 JPEG（base64）", "the signature image must be a base64 PNG or JPEG",
                      "bad_image", loc=["image_base64"])
    return data


def otp_usable(otp: dict | None, now, max_attempts: int) -> bool:
    return otp is not None and otp["expires_at"] > now and otp["attempts"] < max_attempts


def code_expired():
    return Invalid("验证码无效或已过期", "no valid one-time code", fields=[
        field_error("code", "code_expired", "验证码无效或已过期，请重新获取",
                    "the one-time code is missing or expired; request a new one")])


def code_mismatch():
    return Invalid("验证码错误", "wrong one-time code",
                   fields=[field_error("code", "code_mismatch", "验证码错误", "the one-time code is wrong")])


def otp_text(seq: int, code: str, ttl_seconds: int) -> str:
    return f"【枫桥调解】您正在确认第{seq}次调解记录，验证码 {code}，{ttl_seconds // 60} 分钟内有效。"
