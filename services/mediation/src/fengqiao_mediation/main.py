"""Composition root of the mediation service: ``uvicorn --factory fengqiao_mediation.main:create_app``."""

import asyncio

import structlog
from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app

from . import service
from .adapters.court import CourtClient
from .adapters.sms import make_sender
from .api import DEV_ROUTERS, ROUTERS
from .config import Settings
from .consumers import consumer_specs
from .deps import Deps

log = structlog.get_logger("fengqiao.mediation")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    holder: dict = {}

    def get_deps() -> Deps:
        return holder["deps"]

    async def build_deps(runtime: Runtime) -> None:
        deps = Deps(settings=settings, outbox=runtime.outbox, jurisdiction=runtime.jurisdiction,
                    sms=make_sender(settings),
                    court=CourtClient(settings.court_base_url, settings.court_api_key, settings.court_timeout))
        holder["deps"] = runtime.state["deps"] = deps

    async def seed(runtime: Runtime) -> None:
        if settings.demo_data:
            await service.seed_demo(runtime.session_factory, holder["deps"])

    async def deadline_reminders(runtime: Runtime) -> None:
        while True:
            try:
                n = await service.remind_deadlines(runtime.session_factory, holder["deps"])
                if n:
                    log.info("judicial-confirmation reminders sent", count=n)
            except Exception as exc:
                log.warning("deadline scan failed", error=repr(exc))
            await asyncio.sleep(settings.reminder_interval)

    routers = list(ROUTERS) + ([] if settings.environment == "production" else list(DEV_ROUTERS))
    return create_service_app(
        settings,
        title="Fengqiao mediation",
        description="Mediation: mediator pool, bookings, sealed session records, judicial confirmation",
        routers=routers,
        consumers=consumer_specs(get_deps, settings.consumer_group),
        background=[deadline_reminders],
        on_start=[build_deps, seed],
    )
