"""Helpers for integration tests: servers, migrated databases, event probes, identities.

Used through the pytest plugin (``fengqiao_devstack.pytest_plugin``), which every test session
loads: it starts one embedded PostgreSQL and one Tansu broker per test session on free ports (or
reuses servers named by ``FQ_TEST_PG_URL`` / ``FQ_TEST_KAFKA_BOOTSTRAP``), so several test sessions
can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fengqiao_common.auth import Principal, mint_identity
from fengqiao_common.db import migrate
from fengqiao_common.settings import DEV_SECRET
from fengqiao_events import Envelope
from sqlalchemy.engine import make_url

SERVICES = ("intake", "dispatch", "mediation", "analytics", "gateway")


def service_dir(name: str):
    mod = importlib.import_module(f"fengqiao_{name}")
    return mod.SERVICE_DIR


async def migrated_database(server_url: str, service: str, suffix: str | None = None) -> str:
    """Create (if needed) and migrate a database for ``service``; returns its SQLAlchemy URL."""
    name = f"fq_{service}" + (f"_{suffix}" if suffix else "")
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )
    await migrate(service_dir(service), url)
    return url


def identity_headers(secret: str = DEV_SECRET, **claims: Any) -> dict[str, str]:
    """``X-Fengqiao-Identity`` for a principal, as the gateway would send it."""
    claims.setdefault("sub", f"test-{uuid.uuid4().hex[:8]}")
    return {"X-Fengqiao-Identity": mint_identity(Principal(**claims), secret)}


class EventProbe:
    """Reads events from topics (from the end at start, or from the beginning) for assertions."""

    def __init__(self, bootstrap: str, topics: list[str], *, from_beginning: bool = False):
        self.bootstrap = bootstrap
        self.topics = topics
        self.from_beginning = from_beginning
        self.events: list[tuple[Any, Envelope | None]] = []  # (record, envelope or None if undecodable)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> EventProbe:
        self._consumer = AIOKafkaConsumer(
            *self.topics, bootstrap_servers=self.bootstrap, group_id=f"probe-{uuid.uuid4().hex}",
            enable_auto_commit=False, auto_offset_reset="earliest" if self.from_beginning else "latest",
            fetch_max_wait_ms=50, metadata_max_age_ms=2000,
        )
        await self._consumer.start()
        # wait until partitions are assigned so "latest" means "from now"
        for _ in range(200):
            if self._consumer.assignment():
                break
            await asyncio.sleep(0.05)
        if not self.from_beginning:
            for tp in self._consumer.assignment():
                await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for msgs in batches.values():
                for m in msgs:
                    try:
                        env = Envelope.from_kafka(m.headers, m.value)
                    except ValueError:
                        env = None
                    self.events.append((m, env))

    async def __aexit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    def envelopes(self, topic: str | None = None) -> list[Envelope]:
        return [e for m, e in self.events if e is not None and (topic is None or m.topic == topic)]

    async def wait_for(self, predicate: Callable[[Envelope], bool], timeout: float = 15.0,
                       count: int = 1) -> list[Envelope]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [e for e in self.envelopes() if predicate(e)]
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"timed out waiting for {count} event(s); saw {[e.type for e in self.envelopes()]}"
                )
            await asyncio.sleep(0.05)


async def publish(bootstrap: str, *envs: Envelope) -> None:
    """Publish envelopes directly (to simulate another service's events in a test)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        for e in envs:
            await p.send_and_wait(e.topic, value=e.kafka_value(), key=(e.subject or e.id).encode(),
                                  headers=e.kafka_headers())
    finally:
        await p.stop()


async def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1):
    """Await ``check()`` (sync or async) until it returns a truthy value; return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        res = check()
        if asyncio.iscoroutine(res):
            res = await res
        if res:
            return res
        last = res
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)
