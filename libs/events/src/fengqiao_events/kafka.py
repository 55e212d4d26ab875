"""Kafka client settings in one place, and topic creation.

Producers: ``acks='all'`` and no idempotent/transactional producer (Tansu rejects InitProducerId):
exactly-once *effects* come from the outbox and idempotent consumers, not from Kafka transactions.
Consumers: ``enable_auto_commit=False`` and commit after processing (at-least-once).
Security (:class:`KafkaSecurity`): plaintext by default (the embedded Tansu broker on 127.0.0.1, which has no
ACLs); SASL/SCRAM (``SASL_PLAINTEXT`` / ``SASL_SSL``) or TLS against a real cluster, from the services'
settings (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``,
``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .registry import all_specs, department_topic

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client authenticates to the brokers. The default is plaintext without authentication."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"Kafka security protocol must be one of {', '.join(PROTOCOLS)}: {self.protocol!r}")
        if self.sasl and self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(f"SASL mechanism must be one of {', '.join(SASL_MECHANISMS)}: {self.sasl_mechanism!r}")
        if self.sasl and not (self.username and self.password):
            raise ValueError(f"Kafka {self.protocol} needs a username and a password")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @classmethod
    def from_env(cls, env=None, prefix: str = "KAFKA_") -> KafkaSecurity:
        env = os.environ if env is None else env
        return cls(protocol=env.get(f"{prefix}SECURITY_PROTOCOL") or "PLAINTEXT",
                   sasl_mechanism=env.get(f"{prefix}SASL_MECHANISM") or "SCRAM-SHA-512",
                   username=env.get(f"{prefix}SASL_USERNAME") or None,
                   password=env.get(f"{prefix}SASL_PASSWORD") or None,
                   ca_file=env.get(f"{prefix}SSL_CAFILE") or None)

    def client_kwargs(self) -> dict:
        """Keyword arguments for aiokafka's producer, consumer and admin client (none for plaintext)."""
        if self.protocol == "PLAINTEXT":
            return {}
        kw: dict = {"security_protocol": self.protocol}
        if self.protocol.endswith("SSL"):
            from aiokafka.helpers import create_ssl_context

            kw["ssl_context"] = create_ssl_context(cafile=self.ca_file)
        if self.sasl:
            kw.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                      sasl_plain_password=self.password)
        return kw


PLAINTEXT = KafkaSecurity()


def producer_config(bootstrap: str, client_id: str, security: KafkaSecurity | None = None) -> dict:
    return dict(
        **(security or PLAINTEXT).client_kwargs(),
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=512 * 1024,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def consumer_config(bootstrap: str, group_id: str, client_id: str, batch_size: int = 500,
                    security: KafkaSecurity | None = None) -> dict:
    return dict(
        **(security or PLAINTEXT).client_kwargs(),
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

    def __init__(self, bootstrap: str, client_id: str, security: KafkaSecurity | None = None):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.security = security or PLAINTEXT
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                p = AIOKafkaProducer(**producer_config(self.bootstrap, self.client_id, self.security))
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
    bootstrap: str, *, partitions: int = 6, replication: int = 1, topics: list[str] | None = None,
    departments: list[str] | None = None, security: KafkaSecurity | None = None,
) -> list[str]:
    """Create every registered topic and its dead-letter topic, and each department's order topic
    (``departments``: codes; default the jurisdiction file's, ``FQ_JURISDICTION_FILE`` or data/waihai.yaml),
    if missing. Returns the created ones."""
    wanted: dict[str, int] = {}
    if topics is None:
        for spec in all_specs():
            wanted[spec.topic] = spec.partitions or partitions
            wanted[spec.dlq_topic] = 1
        from .topics_cli import department_codes

        for code in department_codes() if departments is None else departments:
            wanted[department_topic(code)] = partitions
    else:
        wanted = {t: partitions for t in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengqiao-topics",
                                **(security or PLAINTEXT).client_kwargs())
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
