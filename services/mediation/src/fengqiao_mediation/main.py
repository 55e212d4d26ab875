"""Composition root of the mediation service: ``uvicorn --factory fengqiao_mediation.main:create_app``."""

import structlog
from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.worker import periodic

from . import consumers, deps
from .api import DEV_ROUTERS, ROUTERS
from .config import Settings
from .usecases import mediators, reminders

log = structlog.get_logger("fengqiao.mediation")


async def seed(runtime: Runtime) -> None:
    if runtime.settings.demo_data:
        d: deps.Deps = runtime.deps
        await mediators.seed_demo(d.uow(), d.jurisdiction.mediator_pool_mix)
        await mediators.seed_demo_mediation(d.uow())


async def deadline_reminders(runtime: Runtime) -> None:
    d: deps.Deps = runtime.deps

    async def step() -> None:
        n = await reminders.remind_deadlines(d.uow, sms=d.sms)
        if n:
            log.info("judicial-confirmation reminders sent", count=n)

    await periodic(step, d.settings.reminder_interval, name="deadline-reminders")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    routers = list(ROUTERS) + ([] if settings.environment == "production" else list(DEV_ROUTERS))
    return create_service_app(
        settings,
        title="Fengqiao mediation",
        description="Mediation: mediator pool, bookings, sealed session records, judicial confirmation",
        routers=routers,
        deps=deps.build,
        consumers=consumers.specs,
        background=[deadline_reminders],
        on_start=[seed],
    )
