"""Fixtures of the analytics tests: a broker of their own (so read-model counts see only the events a
test publishes), a fresh migrated database per app, and the app running in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fengqiao_analytics.config import Settings
from fengqiao_analytics.main import create_app
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import identity_headers
from fengqiao_events import ensure_topics


class FreshIdentity(Mapping):
    """Identity headers minted on use: the gateway's tokens live 5 minutes, longer than a slow test."""

    def __init__(self, **claims):
        self.claims = claims

    def _headers(self) -> dict[str, str]:
        return identity_headers(**self.claims)

    def __getitem__(self, key):
        return self._headers()[key]

    def __iter__(self):
        return iter(self._headers())

    def __len__(self) -> int:
        return 1




LEADER = FreshIdentity(roles=["leader"])
ADMIN = FreshIdentity(roles=["admin"])
DISPATCHER = FreshIdentity(roles=["dispatcher"])


@pytest.fixture(scope="module")
def own_broker():
    b = TansuBroker(port=free_port())
    b.start()
    asyncio.run(ensure_topics(b.bootstrap, partitions=3))
    try:
        yield b.bootstrap
    finally:
        b.stop()


@pytest.fixture
def make_settings(service_settings, own_broker):
    async def make(**overrides) -> Settings:
        values = dict(kafka_bootstrap_servers=own_broker, consumer_group=f"analytics-test-{uuid.uuid4().hex[:8]}",
                      generation_poll_interval=0.5, stream_interval=0.1)
        values.update(overrides)
        return await service_settings(Settings, "analytics", suffix=uuid.uuid4().hex[:10], **values)

    return make


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://analytics", timeout=30
    ) as client:
        yield app, client


async def processed(app, count: int) -> bool:
    """True once the read-model consumer has processed ``count`` distinct events."""
    from fengqiao_analytics.usecases import rebuild

    deps = app.state.runtime.deps
    st = await rebuild.status(deps.uow(), consumer_group=deps.settings.consumer_group)
    return st["processed_events"] >= count
