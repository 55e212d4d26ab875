"""Argon2id password hashing (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# verified when the username is unknown, so a miss costs the same time as a wrong password
_DUMMY = _hasher.hash("fengqiao-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(hashed: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(hashed or _DUMMY, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
