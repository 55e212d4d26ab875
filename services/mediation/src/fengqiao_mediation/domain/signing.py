"""Signing a session record: one-time codes, signature images, who signs. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac

from fengqiao_common.errors import Conflict, DomainError, Invalid, field_error, invalid

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


def decode_image(b64: str, field: str = "image_base64") -> bytes:
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        data = b""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise invalid(field, "签名图片须为 PNG 或 JPEG（base64）", "the signature image must be a base64 PNG or JPEG",
                      "bad_image", loc=[field])
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


# Channels (人民调解法 art. 29: the parties themselves sign the agreement; the same holds for the records here).
LOGIN, OTP, IN_PERSON = "login", "otp", "in_person"
OWN_CHANNELS = (LOGIN, OTP)  # the party's own: logged in as that party, or the code sent to that party's phone


def in_person_note(party_name: str, mediator_name: str | None, witness_name: str, witness_role: str) -> str:
    return (f"{party_name}于调解员{mediator_name or ''}及见证人{witness_name}（{witness_role}）面前现场签名 / "
            f"signed in person before mediator {mediator_name or ''} and witness {witness_name} ({witness_role})")


def in_person_only(party_ids: list[str], sigs: list[dict], party_id: str) -> bool:
    """Would an in-person signature by ``party_id`` leave in person as the only channel used by every party?
    (At least one party must sign through their own login or a one-time code.)"""
    others = [p for p in party_ids if p != party_id]
    by = {s["signer"]: s.get("channel") for s in sigs}
    return all(by.get(f"party:{p}") == IN_PERSON for p in others)


def seal_problem(party_ids: list[str], sigs: list[dict]) -> str | None:
    """Why the signatures cannot seal the record (None: they can)."""
    channels = [s.get("channel") for s in sigs if s["signer_role"] == "party"]
    if party_ids and channels and all(c == IN_PERSON for c in channels):
        return "in_person_only"
    return None


def in_person_refused():
    return Conflict("现场见证签名不能是各方当事人唯一的签名方式：至少一方须本人登录或凭短信验证码签名",
                    "signing in person cannot be the only channel for every party: at least one party signs "
                    "through their own login or a one-time code", code="in_person_only")
