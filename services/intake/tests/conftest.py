"""Intake test fixtures: one intake app per test session on a real PostgreSQL and a real broker."""

from __future__ import annotations

import tempfile
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_events.registry import specs_of_owner


@pytest.fixture(scope="session")
async def intake_app(service_settings):
    from fengqiao_intake.config import Settings
    from fengqiao_intake.main import create_app

    settings = await service_settings(
        Settings, "intake", suffix="it",
        attachment_dir=tempfile.mkdtemp(prefix="fq-intake-att-"), attachment_max_bytes=200_000,
        max_body_bytes=100_000, webhook_allowed_hosts="127.0.0.1,localhost",
        webhook_allowed_private_networks="127.0.0.1/32", webhook_backoff_base=0.2, webhook_backoff_max=1.0,
        webhook_poll_interval=0.1, webhook_max_attempts=3, webhook_timeout=3.0,
        sms_quiet_start="00:00", sms_quiet_end="00:00", sms_poll_interval=0.1,  # no quiet hours in tests
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        runtime = app.state.runtime
        # partitions assigned before the first test publishes (deterministic on a busy machine)
        await eventually(lambda: runtime.consumers and all(c.ready.is_set() for c in runtime.consumers), timeout=60)
        yield app


@pytest.fixture(scope="session")
async def client(intake_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=intake_app), base_url="http://intake") as c:
        yield c


@pytest.fixture(scope="session")
def runtime(intake_app):
    return intake_app.state.runtime


@pytest.fixture
def key() -> str:
    return f"k-{uuid.uuid4().hex}"


INTAKE_TOPICS = [s.topic for s in specs_of_owner("intake")]  # every topic intake publishes (the registry)


@pytest.fixture(scope="session")
async def probe(kafka_bootstrap):
    """One probe on every topic intake publishes (tests filter by subject)."""
    async with EventProbe(kafka_bootstrap, INTAKE_TOPICS) as p:
        yield p
