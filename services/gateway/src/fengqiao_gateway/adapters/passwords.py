"""Argon2id password hashing (argon2-cffi), off the event loop. The cost is configurable
(GATEWAY_PASSWORD_HASH_TIME_COST, GATEWAY_PASSWORD_HASH_MEMORY_KIB); each hash records its own
parameters, so raising the cost later keeps old hashes verifiable."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # verified when the username is unknown, so a miss costs the same time as a wrong password
        self._dummy = self._hasher.hash("fengqiao-dummy-password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(hashed or self._dummy, password) and hashed is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)
