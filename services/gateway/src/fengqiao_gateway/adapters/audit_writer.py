"""Audit rows of proxied requests, written in batches by a background task (never on the request path)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from .uow import GatewayUoW

log = structlog.get_logger("fengqiao.gateway.audit")


class AuditWriter:
    """``linger``: after the first row of a batch, wait this long for more (one transaction per batch
    instead of one per proxied write: at a few hundred writes per second, batches of several rows)."""

    def __init__(self, uow_factory: Callable[[], GatewayUoW], max_queue: int = 100_000, linger: float = 0.05):
        self._uow = uow_factory
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
        async with self._uow() as uow:
            await uow.audit.add(*rows)
            await uow.commit()

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
