"""Staff access and refresh tokens, API keys: formats, hashes, verification. Pure (the clock is a parameter)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt

ACCESS_AUDIENCE = "fengqiao-public"
ACCESS_ISSUER = "fengqiao-gateway"
KEY_PREFIX = "fqk"
REFRESH_PREFIX = "fqr"


class CredentialError(Exception):
    """A token or key that is malformed, forged or expired (the reason is in English)."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---- access tokens -------------------------------------------------------------------------------

def mint_access_token(*, user_id: str, session_id: str, secret: str, now: int, ttl: int) -> str:
    claims = {
        "sub": user_id, "sid": session_id, "typ": "access", "jti": uuid.uuid4().hex,
        "iat": now, "exp": now + ttl, "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: int


def verify_access_token(token: str, *, secret: str, now: int) -> AccessClaims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=ACCESS_AUDIENCE, issuer=ACCESS_ISSUER,
            options={"verify_exp": False, "require": ["exp", "sub", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise CredentialError(f"invalid access token: {exc}") from exc
    if claims.get("typ") != "access":
        raise CredentialError("not an access token")
    if int(claims["exp"]) <= now:
        raise CredentialError("access token expired")
    return AccessClaims(str(claims["sub"]), str(claims["sid"]), int(claims["exp"]))


# ---- refresh tokens: fqr_<session id>.<secret>, stored as sha256 ---------------------------------

def new_refresh_token(session_id: str) -> tuple[str, str]:
    """(token, hash)."""
    token = f"{REFRESH_PREFIX}_{session_id}.{secrets.token_urlsafe(32)}"
    return token, sha256(token)


def parse_refresh_token(token: str) -> str:
    """The session id inside a refresh token (the token still has to match the stored hash)."""
    if not token.startswith(REFRESH_PREFIX + "_") or "." not in token:
        raise CredentialError("malformed refresh token")
    sid = token[len(REFRESH_PREFIX) + 1:].split(".", 1)[0]
    try:
        uuid.UUID(sid)
    except ValueError as exc:
        raise CredentialError("malformed refresh token") from exc
    return sid


# ---- API keys: fqk_<8-char public id>_<secret>, stored as sha256 ---------------------------------

def new_api_key() -> tuple[str, str, str]:
    """(key, public prefix, hash). Keys carry 256 bits of entropy, so a fast hash is the right one."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, sha256(key)


def parse_api_key(key: str) -> str:
    """The public prefix of an API key (used to find its row)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8 or len(parts[2]) < 20:
        raise CredentialError("malformed API key")
    return parts[1]
