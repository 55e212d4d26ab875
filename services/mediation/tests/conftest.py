"""Fixtures: the mediation service and the court simulator, both served over real HTTP (uvicorn on free
ports) against the session's real PostgreSQL and Tansu broker."""

import uuid

import pytest
from fengqiao_devstack.postgres import free_port
from fengqiao_mediation.config import Settings
from fengqiao_mediation.court_simulator import SimulatorSettings
from fengqiao_mediation.court_simulator import create_app as create_court
from fengqiao_mediation.main import create_app
from mediation_testkit import Stack, serve


@pytest.fixture(scope="session")
async def stack(service_settings, kafka_bootstrap, tmp_path_factory):
    court_port, port = free_port(), free_port()
    seal_key_file = tmp_path_factory.mktemp("seal") / "seal-key.pem"  # missing: written with a new key on start
    settings = await service_settings(
        Settings, "mediation", suffix="svc", court_base_url=f"http://127.0.0.1:{court_port}",
        court_callback_url=f"http://127.0.0.1:{port}/api/v1/mediation/court/callback", reminder_interval=3600.0,
        consumer_group=f"mediation-test-{uuid.uuid4().hex[:6]}",
        outbox_poll_interval=0.2, seal_key_file=seal_key_file,
        seal_statement_dir=tmp_path_factory.mktemp("statements"))
    court_app = create_court(SimulatorSettings(auto_decide_after=None, callback_backoff=0.1))
    app = create_app(settings)
    async with serve(court_app, court_port) as court_url, serve(app, port) as url:
        s = Stack(app, url, court_app, court_url, settings, kafka_bootstrap)
        try:
            yield s
        finally:
            await s.client.aclose()
            await s.court_client.aclose()


