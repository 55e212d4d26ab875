"""Transactional outbox.

Writers call :meth:`Outbox.add` inside the transaction that changes state; the row and the state
change commit or roll back together. A trigger NOTIFYs ``fq_outbox`` on insert, which wakes the
:class:`OutboxRelay` at once; a slow poll is the fallback.

Several relays (replicas) may run: rows are spread over ``LANES`` lanes by a hash of the message
key, and a relay publishes a lane only while it holds that lane's PostgreSQL advisory lock. So a
row is never published by two relays at once, and rows of one key are published in id order.

Published rows are kept ``retention_days`` (``<SERVICE>_OUTBOX_RETENTION_DAYS``) before the relay deletes
them: :mod:`.replay` can publish them again after a broker lost events (``fengqiao-ops replay --since``).

An order event (its spec is ``per_department``) is two rows of one event, in one lane, next to each other:
the core topic's record without the spec's private fields, and the department topic's
``dept.<code>.orders`` record with the whole data (same ``ce_id`` and headers; the second row's
``event_id`` column is ``<ce_id>@<topic>``, the column being unique).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import zlib
from collections.abc import Iterable

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from . import hooks
from .envelope import Envelope, new_envelope
from .kafka import ProducerHolder
from .metrics import OUTBOX_BACKLOG, OUTBOX_ERRORS, OUTBOX_LANES, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from .registry import department_topic, spec_for_topic
from .schema import NOTIFY_CHANNEL, outbox_t

LANES = 16
LOCK_CLASS = 0x4651  # 'FQ': advisory lock namespace of the outbox lanes

log = structlog.get_logger("fengqiao.outbox")


def lane_of(key: str) -> int:
    return zlib.crc32(key.encode()) % LANES


def outbox_row(env: Envelope) -> dict:
    """The core topic's row of an event (without the spec's private fields)."""
    return outbox_rows(env)[0]


def outbox_rows(env: Envelope) -> list[dict]:
    """The rows of one event: its topic's, and for an order event its department topic's."""
    spec = spec_for_topic(env.topic)
    headers = [[k, v.decode()] for k, v in hooks.apply_outgoing(env.kafka_headers())]
    public = spec.public_data(env.data)
    value = env.kafka_value() if public is env.data else env.model_copy(update={"data": public}).kafka_value()
    row = {"event_id": env.id, "topic": spec.topic, "key": env.subject, "lane": lane_of(env.subject or env.id),
           "headers": headers, "value": value}
    department = env.extensions.get("department") if spec.per_department else None
    if not department:
        return [row]
    topic = department_topic(department)
    return [row, {**row, "event_id": f"{env.id}@{topic}", "topic": topic, "value": env.kafka_value()}]


class Outbox:
    """Adds events to the outbox of the current transaction. ``source`` is ``/fengqiao/<service>``."""

    def __init__(self, source: str):
        self.source = source

    def envelope(self, payload: BaseModel, *, causation: Envelope | None = None,
                 correlation_id: str | None = None) -> Envelope:
        return new_envelope(payload, source=self.source, causation=causation, correlation_id=correlation_id)

    async def add(
        self,
        session: AsyncSession,
        *payloads: BaseModel,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> list[Envelope]:
        envs = [self.envelope(p, causation=causation, correlation_id=correlation_id) for p in payloads]
        await self.add_envelopes(session, envs)
        return envs

    async def add_envelopes(self, session: AsyncSession, envs: Iterable[Envelope]) -> None:
        rows = [r for e in envs for r in outbox_rows(e)]
        if rows:
            await session.execute(insert(outbox_t), rows)


class OutboxRelay:
    """Publishes committed outbox rows to Kafka (acks=all) and marks them published."""

    def __init__(
        self,
        dsn: str,
        producer: ProducerHolder,
        *,
        service: str,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        retention_days: int = 7,
        lanes: Iterable[int] | None = None,
    ):
        self.dsn = dsn
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention_days = retention_days
        self.wanted_lanes = sorted(lanes) if lanes is not None else list(range(LANES))
        self.owned: set[int] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_metrics = 0.0
        self._last_purge = time.monotonic()
        self._last_acquire = 0.0
        self.published = 0

    def _notify(self, *_args) -> None:
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await conn.add_listener(NOTIFY_CHANNEL, self._notify)
                backoff = 0.2
                await self._loop(conn)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay database error", error=str(exc), service=self.service)
            except Exception as exc:
                log.exception("outbox relay failed", error=str(exc), service=self.service)
            finally:
                self.owned.clear()
                OUTBOX_LANES.labels(self.service).set(0)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            if not self._stopping:
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(backoff * 2, 5.0)

    async def _acquire(self, conn: asyncpg.Connection) -> None:
        for lane in self.wanted_lanes:
            if lane in self.owned:
                continue
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, lane):
                self.owned.add(lane)
        OUTBOX_LANES.labels(self.service).set(len(self.owned))
        self._last_acquire = time.monotonic()

    async def _loop(self, conn: asyncpg.Connection) -> None:
        kafka_backoff = 0.2
        while not self._stopping:
            if len(self.owned) < len(self.wanted_lanes) and time.monotonic() - self._last_acquire > 2.0:
                await self._acquire(conn)
            self._wake.clear()
            drained_all = True
            if self.owned:
                try:
                    drained_all = await self._drain(conn)
                    kafka_backoff = 0.2
                except (KafkaError, OSError, TimeoutError) as exc:
                    OUTBOX_ERRORS.labels(self.service).inc()
                    log.warning("outbox publish failed; will retry", error=repr(exc), service=self.service)
                    await self.producer.reset()
                    await asyncio.sleep(kafka_backoff)
                    kafka_backoff = min(kafka_backoff * 2, 5.0)
                    drained_all = False
            now = time.monotonic()
            if now - self._last_metrics > 2.0:
                await self._update_metrics(conn)
            if now - self._last_purge > 600:
                await conn.execute(
                    "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)",
                    self.retention_days,
                )
                self._last_purge = now
            if drained_all:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _drain(self, conn: asyncpg.Connection) -> bool:
        """Publish pending rows of the owned lanes. True when nothing is left."""
        lanes = sorted(self.owned)
        while not self._stopping:
            rows = await conn.fetch(
                "SELECT id, topic, key, headers, value FROM outbox "
                "WHERE published_at IS NULL AND lane = ANY($1::smallint[]) ORDER BY id LIMIT $2",
                lanes,
                self.batch_size,
            )
            if not rows:
                return True
            producer = await self.producer.get()
            futures = []
            for r in rows:
                headers = [(k, v.encode()) for k, v in json.loads(r["headers"])]
                futures.append(
                    await producer.send(r["topic"], value=bytes(r["value"]), key=r["key"].encode(), headers=headers)
                )
            await asyncio.wait_for(asyncio.gather(*futures), 30)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
            self.published += len(rows)
            OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
            if len(rows) < self.batch_size:
                return True
        return True

    async def _update_metrics(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS age "
            "FROM outbox WHERE published_at IS NULL"
        )
        OUTBOX_BACKLOG.labels(self.service).set(row["n"])
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(row["age"]))
        self._last_metrics = time.monotonic()
