"""Audit rows of proxied requests, written in batches by a background task (never on the request path)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .orm import audit_log

log = structlog.get_logger("fengqiao.gateway.audit")


class AuditWriter:
    """``linger``: after the first row of a batch, wait this long for more (one transaction per batch
    instead of one per proxied write: at a few hundred writes per second, batches of several rows)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], max_queue: int = 100_000,
                 linger: float = 0.05):
        self._sf = session_factory
        self._queue: asyncio.Queue[dict] = asyncio.Queue(max_queue)
        self.linger = linger

    def record(self, row: dict) -> None:
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            log.error("audit queue full, dropping row", action=row.get("action"))

    async def _flush(self, rows: list[dict]) -> None:
        if not rows:
            return
        async with self._sf() as session, session.begin():
            await session.execute(audit_log.insert(), rows)

    def _drain(self) -> list[dict]:
        rows = []
        while not self._queue.empty() and len(rows) < 1000:
            rows.append(self._queue.get_nowait())
        return rows

    async def run(self) -> None:
        try:
            while True:
                first = await self._queue.get()
                if self.linger > 0:
                    await asyncio.sleep(self.linger)
                rows = [first, *self._drain()]
                try:
                    await self._flush(rows)
                except Exception as exc:
                    log.error("audit write failed", error=repr(exc), rows=len(rows))
                    await asyncio.sleep(1)
                    with contextlib.suppress(Exception):
                        await self._flush(rows)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                rows = self._drain()
                while rows:
                    await self._flush(rows)
                    rows = self._drain()
            raise
