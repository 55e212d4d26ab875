"""Kafka client settings in one place, and topic creation.

Producers: ``acks='all'`` and no idempotent/transactional producer (Tansu rejects InitProducerId):
exactly-once *effects* come from the outbox and idempotent consumers, not from Kafka transactions.
Consumers: ``enable_auto_commit=False`` and commit after processing (at-least-once).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .registry import all_specs


def producer_config(bootstrap: str, client_id: str) -> dict:
    return dict(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=512 * 1024,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def consumer_config(bootstrap: str, group_id: str, client_id: str, batch_size: int = 500) -> dict:
    return dict(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_size,
        fetch_max_wait_ms=25,  # an empty fetch waits this long on Tansu: it bounds idle latency
        session_timeout_ms=10000,
        heartbeat_interval_ms=3000,
        metadata_max_age_ms=30000,
    )


class ProducerHolder:
    """One producer per process, started lazily and restarted after a failure."""

    def __init__(self, bootstrap: str, client_id: str):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                p = AIOKafkaProducer(**producer_config(self.bootstrap, self.client_id))
                try:
                    await p.start()
                except BaseException:
                    await p.stop()
                    raise
                self._producer = p
        return self._producer

    async def reset(self) -> None:
        async with self._lock:
            p, self._producer = self._producer, None
        if p is not None:
            try:
                await asyncio.wait_for(p.stop(), 5)
            except Exception:
                pass

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            p = await asyncio.wait_for(self.get(), timeout)
            await asyncio.wait_for(p.client.fetch_all_metadata(), timeout)
            return True
        except (TimeoutError, KafkaError, OSError):
            return False

    async def stop(self) -> None:
        await self.reset()


async def ensure_topics(
    bootstrap: str, *, partitions: int = 6, replication: int = 1, topics: list[str] | None = None
) -> list[str]:
    """Create every registered topic and its dead-letter topic if missing. Returns the created ones."""
    wanted: dict[str, int] = {}
    if topics is None:
        for spec in all_specs():
            wanted[spec.topic] = spec.partitions or partitions
            wanted[spec.dlq_topic] = 1
    else:
        wanted = {t: partitions for t in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengqiao-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, n, replication) for t, n in wanted.items() if t not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        await admin.close()
