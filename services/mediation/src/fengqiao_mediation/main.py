"""Composition root of the mediation service: ``uvicorn --factory fengqiao_mediation.main:create_app``."""

import structlog
from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.worker import periodic

from . import consumers, deps
from .adapters.statements import StatementDir
from .api import DEV_ROUTERS, ROUTERS
from .config import Settings
from .usecases import mediators, records, reminders

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


async def daily_statements(runtime: Runtime) -> None:
    """Each past day's signed chain-head statement as a file in MEDIATION_SEAL_STATEMENT_DIR (if set)."""
    d: deps.Deps = runtime.deps
    if d.settings.seal_statement_dir is None:
        return
    out = StatementDir(d.settings.seal_statement_dir)

    async def step() -> None:
        days = await records.export_daily_statements(d.uow(), out=out)
        if days:
            log.info("daily seal statements written", days=days, dir=str(out.path))

    await periodic(step, d.settings.seal_statement_interval, name="seal-statements")


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
        background=[deadline_reminders, daily_statements],
        on_start=[seed],
    )
