"""Composition root of the dispatch service: ``uvicorn --factory fengqiao_dispatch.main:create_app``."""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from fengqiao_common.app import create_service_app

from . import service
from .api import routers
from .clock import Clock, SystemClock
from .config import Settings
from .consumers import consumer_specs
from .timer_loop import timer_loop

log = structlog.get_logger("fengqiao.dispatch")


async def _seed(rt) -> None:
    if rt.settings.demo_data:
        n = await service.seed_demo_rules(rt)
        log.info("demo routing rules seeded", inserted=n)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    holder: dict = {}
    app = create_service_app(
        settings,
        title="Fengqiao dispatch",
        description="Dispatch: routing rules, orders to departments, time limits and escalation",
        routers=routers,
        consumers=consumer_specs(lambda: holder["rt"], settings.consumer_group),
        background=[timer_loop] if settings.run_timers else [],
        on_start=[_seed],
        openapi_tags=[{"name": "orders", "description": "Department inbox and order actions"},
                      {"name": "dispatch", "description": "The centre: queue, manual dispatch, rules, supervision"}],
    )
    holder["rt"] = app.state.runtime
    app.state.runtime.state["clock"] = clock or SystemClock()
    return app
