"""Intake test fixtures: one intake app per test session on a real PostgreSQL and a real broker."""

from __future__ import annotations

import itertools
import tempfile
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from fengqiao_devstack.testing import identity_headers

_spot = itertools.count()


def spot() -> dict:
    """A location no other test uses (1.1 km apart), so duplicate detection does not cross tests."""
    i = next(_spot)
    return {"lat": 21.0 + (i % 100) * 0.01, "lon": 110.0 + (i // 100) * 0.01}


def worker(*grids: str, **kw) -> dict:
    return identity_headers(roles=["grid_worker"], grids=list(grids) or ["WH-01"], name="网格员", **kw)


def dispatcher(**kw) -> dict:
    return identity_headers(roles=["dispatcher"], department="ZZZX", name="调度员", **kw)


def system(code: str = "yue-sheng-shi", **kw) -> dict:
    kw.setdefault("sub", f"key-{code}")
    return identity_headers(kind="api_key", roles=["external_system"], external_system=code, **kw)


def grid_event(**over) -> dict:
    body = {
        "category": "neighbour", "grid": "WH-01", "title": "邻里噪音",
        "description": "楼上夜间装修噪音扰民，双方多次争吵。",
        "people_involved": 2, "location": {**spot(), "address": "外海大道 1 号"},
        "parties": [{"name": "张三丰", "phone": "13812345678", "id_card": "11010519491231002X", "role": "requester"}],
    }
    body.update(over)
    return body


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
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
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
