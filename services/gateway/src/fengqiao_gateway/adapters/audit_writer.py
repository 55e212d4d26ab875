"""Durable audit rows of proxied requests: the request waits until its row is written (group commit: rows that
arrive while a batch commits, or within ``linger``, share the next transaction).

When the database does not take a batch (within ``db_timeout``), the rows go to the local spool (fsync'd) and
are moved into the database when it answers again (by this or any other gateway process, also after a
restart). A row is acknowledged only once it is in the database or in the spool; until then it stays in a
bounded buffer and is retried (never dropped). ``write`` answers False when that did not happen within
``wait`` seconds, or when the buffer is full: the caller then refuses to serve personal data (503)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import structlog

from .audit_spool import AuditSpool
from .uow import GatewayUoW

log = structlog.get_logger("fengqiao.gateway.audit")


class AuditWriter:
    def __init__(self, uow_factory: Callable[[], GatewayUoW], spool: AuditSpool | None = None, *,
                 linger: float = 0.002, max_batch: int = 500, max_pending: int = 20_000, wait: float = 3.0,
                 db_timeout: float = 2.0, move_interval: float = 1.0, monotonic=None):
        self._uow = uow_factory
        self.spool = spool
        self.linger, self.max_batch, self.max_pending = linger, max_batch, max_pending
        self.wait, self.db_timeout, self.move_interval = wait, db_timeout, move_interval
        self._pending: deque[tuple[dict, asyncio.Future | None]] = deque()
        self._wake = asyncio.Event()
        self._db_down_until = 0.0
        self._monotonic = monotonic or (lambda: asyncio.get_running_loop().time())

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def write(self, row: dict) -> bool:
        """True once the row is durable (database or spool); False if not within ``wait`` or no room."""
        if len(self._pending) >= self.max_pending:
            log.error("audit buffer full", action=row.get("action"), pending=len(self._pending))
            return False
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.wait)
        except TimeoutError:
            log.error("audit row not yet durable", action=row.get("action"), pending=len(self._pending))
            return False  # the row stays in the buffer and is still written

    async def _to_db(self, rows: list[dict]) -> None:
        async def flush():
            async with self._uow() as uow:
                await uow.audit.add(*rows)
                await uow.commit()

        await asyncio.wait_for(flush(), self.db_timeout)

    async def _persist(self, rows: list[dict]) -> bool:
        if self._monotonic() >= self._db_down_until:
            try:
                await self._to_db(rows)
                return True
            except Exception as exc:
                self._db_down_until = self._monotonic() + self.move_interval
                log.error("audit write failed, spooling", error=repr(exc), rows=len(rows))
        if self.spool is not None:
            try:
                await asyncio.to_thread(self.spool.append, rows)
                return True
            except OSError as exc:
                log.error("audit spool failed", error=repr(exc), rows=len(rows))
        return False

    async def _flush_once(self) -> bool:
        batch = [self._pending[i] for i in range(min(self.max_batch, len(self._pending)))]
        if not batch:
            return True
        if not await self._persist([r for r, _ in batch]):
            return False
        for _ in batch:
            _row, fut = self._pending.popleft()
            if fut is not None and not fut.done():
                fut.set_result(True)
        return True

    async def move_spool(self) -> int:
        """Move spooled rows into the database (rows already there are skipped by their ``uid``)."""
        if self.spool is None or not self.spool.pending() or self._monotonic() < self._db_down_until:
            return 0
        self.spool.rotate()
        moved = 0
        for path in self.spool.files():
            with self.spool.take(path) as rows:
                if not rows:
                    continue
                try:
                    for i in range(0, len(rows), 1000):
                        await self._to_db(rows[i:i + 1000])
                except Exception:
                    self._db_down_until = self._monotonic() + self.move_interval
                    raise
                moved += len(rows)
        if moved:
            log.info("spooled audit rows moved", rows=moved)
        return moved

    async def _mover(self) -> None:
        while True:
            try:
                await self.move_spool()
            except Exception as exc:
                log.warning("moving spooled audit rows failed", error=repr(exc))
            await asyncio.sleep(self.move_interval)

    async def run(self) -> None:
        mover = asyncio.create_task(self._mover(), name="audit-spool-mover")
        backoff = 0.05
        try:
            while True:
                await self._wake.wait()
                if self.linger > 0:
                    await asyncio.sleep(self.linger)
                if await self._flush_once():
                    backoff = 0.05
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                if not self._pending:
                    self._wake.clear()
        except asyncio.CancelledError:
            await self._shutdown()
            raise
        finally:
            mover.cancel()
            with contextlib.suppress(BaseException):
                await mover

    async def _shutdown(self) -> None:
        """Last attempts (database, then spool) for what is still buffered; logged in full if both fail."""
        self._db_down_until = 0.0
        while self._pending:
            if not await self._flush_once():
                break
        if self.spool is not None:
            self.spool.rotate()
        for row, _fut in self._pending:
            log.error("audit row lost at shutdown", **{k: str(v) for k, v in row.items()})
        self._pending.clear()
