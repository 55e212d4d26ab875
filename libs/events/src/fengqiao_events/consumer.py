"""Idempotent, at-least-once event consumer with dead-lettering.

For each poll (``getmany``, any number of partitions) the consumer first tries the whole batch in one
transaction (one INSERT marks every event id processed, then the handlers run, or the batch handler once
for all new events); if anything fails it redoes each partition's batch in one transaction where every
message runs in its own SAVEPOINT, first inserting ``(consumer, event id)`` into
``processed_events`` (a duplicate hits the primary key and is skipped) and then calling the
handler, so effects and the processed mark commit together. Offsets are committed only after the
transaction. A handler failure is retried ``max_attempts`` times with backoff; a message that
still fails, or cannot be decoded, goes to ``<topic>.dlq`` with the error and origin in headers,
and the partition moves on.

Authenticity: with ``trusted_sources`` (the services' consumers get the registry's
:func:`~fengqiao_events.registry.trusted_sources`: a topic's owner) an event whose ``ce_source`` is not
trusted for its topic is never applied: it goes to the dead-letter topic with ``dlq_reason:
untrusted-source`` and is not marked processed (a forged id cannot shadow the real event). Without it
(``None``) any source is accepted: for tools whose writer and reader are one program (devstack's eventlab).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import hooks
from .envelope import DecodeError, Envelope
from .kafka import KafkaSecurity, ProducerHolder, consumer_config
from .metrics import CONSUMER_LAG, DLQ_MESSAGES, EVENTS_CONSUMED, HANDLE_SECONDS
from .registry import DLQ_SUFFIX, spec_for_topic
from .schema import processed_t

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]
# Handles many new events at once, in partition order, inside the fast path's transaction (set-based writes).
# It must have the same effect as calling the per-message handlers one by one, which the slow path does.
BatchHandler = Callable[[AsyncSession, list[tuple[Envelope, Any]]], Awaitable[None]]
log = structlog.get_logger("fengqiao.consumer")


# SQLSTATEs of a database that is away or restarting: connection exceptions (class 08), admin/crash
# shutdown and "the database system is starting up" (57P01-57P03), too many connections (53300).
_UNAVAILABLE_PREFIXES = ("08",)
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def _causes(exc: BaseException | None):
    """The exception, its ``orig`` (SQLAlchemy's wrapper) and its ``__cause__`` chain."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "orig", None) or exc.__cause__


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else None


def is_connection_error(exc: BaseException) -> bool:
    """A lost database connection, a database that is (re)starting, or a network failure: never the
    message's fault."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    for e in _causes(exc):
        if isinstance(e, OSError | ConnectionError | TimeoutError | InterfaceError | OperationalError):
            return True
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        state = _sqlstate(e)
        if state and (state.startswith(_UNAVAILABLE_PREFIXES) or state in _UNAVAILABLE_STATES):
            return True
        name = type(e).__name__
        if "ConnectionDoesNotExist" in name or "ConnectionFailure" in name or "CannotConnectNow" in name or \
                "AdminShutdown" in name or "CrashShutdown" in name or "InterfaceError" in name:
            return True
    return False


def is_transient_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure (SQLSTATE 40P01 / 40001): the transaction lost a race with another
    one, not the message's fault. The whole batch is rolled back and read again."""
    return any(_sqlstate(e) in ("40P01", "40001") for e in _causes(exc))


_MARK_MANY = pg_insert(processed_t).on_conflict_do_nothing().returning(processed_t.c.event_id)


class PermanentError(Exception):
    """Raise from a handler for a message that can never succeed: it goes to the DLQ at once."""


class UntrustedSource(Exception):
    """An event whose ``ce_source`` is not the owner of its topic (nor a trusted system source)."""

    def __init__(self, topic: str, source: str, trusted: frozenset[str]):
        super().__init__(f"ce_source {source!r} may not publish {topic} (trusted: {', '.join(sorted(trusted))})")


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: dict[str, Handler],
        producer: ProducerHolder,
        max_attempts: int = 3,
        backoff: float = 0.05,
        batch_size: int = 500,
        poll_timeout_ms: int = 200,
        batch_handler: BatchHandler | None = None,
        security: KafkaSecurity | None = None,
        trusted_sources: Callable[[str], frozenset[str]] | None = None,
    ):
        self.name = name
        self.bootstrap = bootstrap
        self.session_factory = session_factory
        self.handlers = dict(handlers)
        self.producer = producer
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.batch_handler = batch_handler
        self.security = security or getattr(producer, "security", None)  # the process's credentials by default
        self.trusted = {t: frozenset(trusted_sources(t)) for t in self.handlers} if trusted_sources else None
        self._stopping = False
        self._consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.handled = 0

    @property
    def topics(self) -> list[str]:
        return sorted(self.handlers)

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            consumer = AIOKafkaConsumer(
                *self.topics, **consumer_config(self.bootstrap, self.name, f"{self.name}-consumer", self.batch_size,
                                              self.security)
            )
            try:
                await consumer.start()
                self._consumer = consumer
                backoff = 0.5
                await self._loop(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer failed; restarting", consumer=self.name, error=repr(exc))
            finally:
                self._consumer = None
                self.ready.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 5)
            if not self._stopping:
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(backoff * 2, 5.0)

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        self._batch_backoff = 0.2
        while not self._stopping:
            batches = await consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.batch_size)
            if consumer.assignment():
                self.ready.set()
            batches = {tp: msgs for tp, msgs in batches.items() if msgs}
            if not batches:
                continue
            started = time.perf_counter()
            ok, tried = await self._fast_path([m for msgs in batches.values() for m in msgs])
            if ok:
                # every partition of the poll in one transaction: one offset commit for all of them
                self.handled += sum(len(msgs) for msgs in batches.values())
                HANDLE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                await self._commit(consumer, batches)
                continue
            pending = list(batches.items())
            while pending:
                tp, msgs = pending.pop(0)
                started = time.perf_counter()
                try:
                    await self._process_partition(tp, msgs, tried)
                except Exception as exc:
                    # DLQ produce failed, the database is away or a lock race: replay this partition's
                    # batch and the rest of the poll later.
                    log.warning("batch failed; will retry", consumer=self.name, tp=str(tp), error=repr(exc))
                    for rtp, rmsgs in [(tp, msgs), *pending]:
                        consumer.seek(rtp, rmsgs[0].offset)
                    await asyncio.sleep(self._batch_backoff)
                    self._batch_backoff = min(self._batch_backoff * 2, 5.0)
                    break
                self._batch_backoff = 0.2
                HANDLE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                await self._commit(consumer, {tp: msgs})

    async def _commit(self, consumer: AIOKafkaConsumer, batches: dict) -> None:
        try:
            # bounded: aiokafka retries some errors forever (a broker that lost the topic)
            await asyncio.wait_for(consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batches.items()}), 15)
        except (CommitFailedError, IllegalStateError) as exc:
            # Rebalanced away: the next owner re-reads and the processed table dedups.
            log.info("offset commit failed after rebalance", consumer=self.name, error=repr(exc))
        for tp, msgs in batches.items():
            hw = consumer.highwater(tp)
            if hw is not None:
                CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(max(0, hw - msgs[-1].offset - 1))

    async def _process_partition(self, tp: TopicPartition, msgs, tried: str | None = None) -> None:
        """Slow path: one SAVEPOINT per message, retries, dead letters. The message whose handler failed
        on the fast path has used one of its attempts already."""
        async with self.session_factory() as session, session.begin():
            for msg in msgs:
                await self._process_one(session, msg, tried)
        self.handled += len(msgs)

    async def _fast_path(self, msgs) -> tuple[bool, str | None]:
        """The whole batch in one transaction without savepoints: one INSERT marks every event id
        as processed (returning the new ones), then the handlers run. Any failure rolls it all back and
        returns False, and the batch is redone on the slow path, message by message. Batches with a
        record that does not decode always take the slow path (it dead-letters them)."""
        items = []
        for msg in msgs:
            handler = self.handlers.get(msg.topic)
            if handler is None:
                continue
            try:
                env = Envelope.from_kafka(msg.headers, msg.value)
                payload = spec_for_topic(msg.topic).payload.model_validate(env.data)
            except (DecodeError, ValidationError, KeyError):
                return False, None
            if self._untrusted(msg.topic, env) is not None:
                return False, None  # the slow path dead-letters it
            items.append((msg, env, payload, handler))
        if not items:
            return True, None
        current: str | None = None
        try:
            async with self.session_factory() as session, session.begin():
                res = await session.execute(  # one cached statement, executemany with RETURNING
                    _MARK_MANY, [{"consumer": self.name, "event_id": env.id} for _, env, _, _ in items]
                )
                new = {row[0] for row in res}
                done: set[str] = set()
                outcomes = []
                fresh = []
                for msg, env, payload, handler in items:
                    if env.id not in new or env.id in done:
                        outcomes.append((msg.topic, "duplicate"))
                        continue
                    done.add(env.id)
                    outcomes.append((msg.topic, "ok"))
                    fresh.append((msg, env, payload, handler))
                if self.batch_handler is not None and len(fresh) > 1:
                    await self.batch_handler(session, [(env, payload) for _, env, payload, _ in fresh])
                else:
                    for msg, env, payload, handler in fresh:
                        current = env.id
                        with hooks.around_handler(self.name, msg.topic, msg.headers, env.id):
                            await handler(session, env, payload)
                current = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # redo on the slow path, which isolates the culprit
            log.info("batch fast path failed; redoing message by message", consumer=self.name, error=repr(exc))
            return False, current
        for topic, outcome in outcomes:
            EVENTS_CONSUMED.labels(self.name, topic, outcome).inc()
        return True, None

    async def _mark(self, session: AsyncSession, event_id: str) -> bool:
        res = await session.execute(
            pg_insert(processed_t)
            .values(consumer=self.name, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(processed_t.c.event_id)
        )
        return res.first() is not None

    async def _process_one(self, session: AsyncSession, msg, tried: str | None = None) -> None:
        topic = msg.topic
        handler = self.handlers.get(topic)
        if handler is None:
            return
        try:
            env = Envelope.from_kafka(msg.headers, msg.value)
            payload = spec_for_topic(topic).payload.model_validate(env.data)
        except (DecodeError, ValidationError, KeyError) as exc:
            await self._dead_letter(msg, exc, 0, reason="undecodable")
            EVENTS_CONSUMED.labels(self.name, topic, "dlq").inc()
            return
        untrusted = self._untrusted(topic, env)
        if untrusted is not None:
            await self._dead_letter(msg, untrusted, 0, reason="untrusted-source")
            EVENTS_CONSUMED.labels(self.name, topic, "untrusted").inc()
            return
        with hooks.around_handler(self.name, topic, msg.headers, env.id):
            await self._handle(session, msg, env, payload, first_attempt=2 if env.id == tried else 1)

    def _untrusted(self, topic: str, env: Envelope) -> UntrustedSource | None:
        if self.trusted is None or env.source in self.trusted.get(topic, ()):
            return None
        return UntrustedSource(topic, env.source, self.trusted.get(topic, frozenset()))

    async def _handle(self, session: AsyncSession, msg, env: Envelope, payload, first_attempt: int = 1) -> None:
        topic = msg.topic
        handler = self.handlers[topic]
        last: BaseException | None = None
        attempts = first_attempt - 1
        for attempt in range(first_attempt, self.max_attempts + 1):
            attempts = attempt
            try:
                async with session.begin_nested():
                    if not await self._mark(session, env.id):
                        EVENTS_CONSUMED.labels(self.name, topic, "duplicate").inc()
                        return
                    await handler(session, env, payload)
                EVENTS_CONSUMED.labels(self.name, topic, "ok").inc()
                return
            except PermanentError as exc:
                last = exc
                break
            except Exception as exc:
                if is_connection_error(exc) or is_transient_conflict(exc):
                    raise  # the database or network is away, or a lock race: not the message; retry the batch later
                last = exc
                log.warning("handler failed", consumer=self.name, topic=topic, event_id=env.id,
                            attempt=attempt, error=repr(exc))
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        await self._dead_letter(msg, last, attempts)
        async with session.begin_nested():
            await self._mark(session, env.id)
        EVENTS_CONSUMED.labels(self.name, topic, "dlq").inc()

    async def _dead_letter(self, msg, error: BaseException | None, attempts: int,
                           reason: str = "handler-failed") -> None:
        headers = [*list(msg.headers or ()), ("dlq_error", repr(error)[:2000].encode()),
                   ("dlq_reason", reason.encode()), ("dlq_origin_topic", msg.topic.encode()), ("dlq_origin_partition", str(msg.partition).encode()), ("dlq_origin_offset", str(msg.offset).encode()), ("dlq_consumer", self.name.encode()), ("dlq_attempts", str(attempts).encode()), ("dlq_at", datetime.now(UTC).isoformat().encode())]
        producer = await self.producer.get()
        await producer.send_and_wait(msg.topic + DLQ_SUFFIX, value=msg.value, key=msg.key, headers=headers)
        DLQ_MESSAGES.labels(self.name, msg.topic).inc()
        log.error("message dead-lettered", consumer=self.name, topic=msg.topic, partition=msg.partition,
                  offset=msg.offset, error=repr(error))
