"""Every service is a runnable FastAPI app with /healthz, /readyz (database + broker) and /metrics."""

import importlib

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fengqiao_devstack.testing import SERVICES


@pytest.mark.parametrize("service", SERVICES)
async def test_health_ready_metrics(service, service_settings):
    mod = importlib.import_module(f"fengqiao_{service}.main")
    cfg = importlib.import_module(f"fengqiao_{service}.config")
    settings = await service_settings(cfg.Settings, service, suffix="health")
    app = mod.create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        r = await client.get("/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert r.headers["x-request-id"]
        r = await client.get("/readyz")
        # readiness is decided by the process's own database; the gateway reports the services
        # beside it (alone here, they are all away) without leaving rotation for them
        assert r.status_code == 200, r.text
        if service == "gateway":
            assert r.json()["upstreams"]["intake"] == "unavailable", r.text
        assert r.json()["checks"]["database"] == "ok"
        assert r.json()["checks"]["kafka"] == "ok"
        r = await client.get("/metrics")
        if service == "gateway":  # the public port serves no metrics: they are on GATEWAY_METRICS_PORT
            assert r.status_code == 404
        else:
            assert r.status_code == 200
            assert "fq_http_request_duration_seconds" in r.text


async def test_readyz_reports_unreachable_database(service_settings):
    from fengqiao_intake.config import Settings
    from fengqiao_intake.main import create_app

    settings = await service_settings(Settings, "intake", suffix="health")
    settings = settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
                                           "run_relay": False, "run_consumers": False})
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"] == "unavailable"


async def test_readyz_stays_ready_while_the_broker_is_away(service_settings):
    """A write needs only PostgreSQL (events wait in the outbox), so a broker outage must not take the
    service out of rotation; the broker's state is reported beside it and exported as fq_broker_up."""
    from fengqiao_intake.config import Settings
    from fengqiao_intake.main import create_app

    settings = await service_settings(Settings, "intake", suffix="health")
    settings = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1",
                                           "run_relay": False, "run_consumers": False})
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        r = await c.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "kafka": "unavailable"}
        metrics = (await c.get("/metrics")).text
        assert 'fq_broker_up{service="intake"} 0.0' in metrics
