"""Live updates for the SSE streams: one LISTEN connection per process (the read-model triggers NOTIFY
``fq_analytics`` at commit), coalesced into at most one snapshot per ``interval`` and fanned out to every
subscriber. A burst of 500 events/s costs a few snapshots per second, not one per event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from .orm import NOTIFY_CHANNEL

log = structlog.get_logger("fengqiao.analytics.live")


class LiveHub:
    def __init__(self, dsn: str, snapshot: Callable[[], Awaitable[dict[str, Any]]], interval: float = 0.3,
                 idle_refresh: float = 10.0):
        self.dsn = dsn
        self.snapshot = snapshot
        self.interval = interval
        self.idle_refresh = idle_refresh
        self.subscribers: set[asyncio.Queue] = set()
        self._dirty = asyncio.Event()
        self.latest: dict[str, Any] | None = None
        self.version = 0

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=2)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)

    def _notified(self, *_args) -> None:
        self._dirty.set()

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await conn.add_listener(NOTIFY_CHANNEL, self._notified)
                backoff = 0.5
                self._dirty.set()
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, ev=closed: ev.set())
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listen connection failed", error=repr(exc))
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="live-listen")
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), self.idle_refresh)
                self._dirty.clear()
                if not self.subscribers:
                    continue
                try:
                    snap = await self.snapshot()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("snapshot failed", error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                self.latest, self.version = snap, self.version + 1
                for q in list(self.subscribers):
                    if q.full():
                        with contextlib.suppress(asyncio.QueueEmpty):
                            q.get_nowait()
                    q.put_nowait(snap)
                await asyncio.sleep(self.interval)
        finally:
            listener.cancel()
            with contextlib.suppress(BaseException):
                await listener
