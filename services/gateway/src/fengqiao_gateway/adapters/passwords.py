"""Argon2id password hashing (argon2-cffi), off the event loop. The cost is configurable
(GATEWAY_PASSWORD_HASH_TIME_COST, GATEWAY_PASSWORD_HASH_MEMORY_KIB); each hash records its own
parameters, so raising the cost later keeps old hashes verifiable. Each hash holds ``memory_kib`` while it
runs, so at most ``concurrency`` run at once; a caller that cannot get a slot within ``wait`` seconds is
refused (Busy, 503 + Retry-After) instead of queueing behind a spray of logins."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fengqiao_common.errors import Unavailable
from prometheus_client import Counter

BUSY = Counter("fq_gateway_password_hash_busy_total", "Password hashes refused: every hashing slot was taken")


class Busy(Unavailable):
    def __init__(self) -> None:
        super().__init__("登录请求过多，请稍后重试", "too many logins at once, retry in a few seconds",
                         code="busy")


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, *, concurrency: int = 4, wait: float = 1.0):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # verified when the username is unknown, so a miss costs the same time as a wrong password
        self._dummy = self._hasher.hash("fengqiao-dummy-password")
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.wait = wait

    async def _run(self, fn):
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait)
        except TimeoutError:
            BUSY.inc()
            raise Busy() from None
        try:
            return await asyncio.to_thread(fn)
        finally:
            self._slots.release()

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, hashed: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(hashed or self._dummy, password) and hashed is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await self._run(check)
