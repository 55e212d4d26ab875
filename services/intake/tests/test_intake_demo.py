"""INTAKE_DEMO_DATA=true seeds a few cases at startup, idempotently (restart: nothing new)."""

import httpx
from asgi_lifespan import LifespanManager
from intake_helpers import dispatcher


async def test_demo_data_seeded_once(service_settings, tmp_path):
    from fengqiao_intake.config import Settings
    from fengqiao_intake.main import create_app

    settings = await service_settings(Settings, "intake", suffix="demo", demo_data=True, run_consumers=False,
                                      attachment_dir=tmp_path)
    totals = []
    for _ in range(2):
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=60), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake") as c:
            body = (await c.get("/api/v1/cases", headers=dispatcher())).json()
            totals.append(body["total"])
            channels = sorted({x["channel"] for x in body["items"]})
    assert totals == [4, 4]
    assert channels == ["external", "grid_app", "petition"]
