"""Composition root of the dispatch service: ``uvicorn --factory fengqiao_dispatch.main:create_app``.
Tests move time by setting ``app.state.runtime.clock`` (a ManualClock) before start-up."""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from fengqiao_common.app import create_service_app

from . import consumers, deps
from .api import routers
from .config import Settings
from .timer_loop import timer_loop
from .usecases.rules import seed_demo_rules

log = structlog.get_logger("fengqiao.dispatch")


async def _seed(rt) -> None:
    if rt.settings.demo_data:
        d: deps.Deps = rt.deps
        n = await seed_demo_rules(d.uow(), jurisdiction=d.jurisdiction)
        log.info("demo routing rules seeded", inserted=n)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao dispatch",
        description="Dispatch: routing rules, orders to departments, time limits and escalation",
        routers=routers,
        deps=deps.build,
        consumers=consumers.specs,
        background=[timer_loop] if settings.run_timers else [],
        on_start=[_seed],
        openapi_tags=[{"name": "orders", "description": "Department inbox and order actions"},
                      {"name": "dispatch", "description": "The centre: queue, manual dispatch, rules, supervision"}],
    )
