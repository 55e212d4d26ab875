"""Composition root of the intake service: ``uvicorn --factory fengqiao_intake.main:create_app``."""

from __future__ import annotations

import asyncio

import httpx
import structlog
from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app

from . import service
from .adapters.case_writer import CaseWriter
from .adapters.storage import make_storage
from .api import attachments, cases, catalogue, open311, weak_signals, webhooks
from fengqiao_common.bodylimit import BodyLimitMiddleware
from .config import Settings
from .consumers import consumer_specs

log = structlog.get_logger("fengqiao.intake")


async def _wire(runtime: Runtime) -> None:
    s = runtime.settings
    writer = CaseWriter(s.asyncpg_dsn, min_size=min(2, s.write_pool_size), max_size=s.write_pool_size)
    await writer.start()
    runtime.state["deps"] = service.Deps(
        settings=s, jurisdiction=runtime.jurisdiction, outbox=runtime.outbox, storage=make_storage(s),
        writer=writer,
    )
    if runtime.settings.demo_data:
        from .demo import seed

        await seed(runtime)


async def _unwire(runtime: Runtime) -> None:
    deps = runtime.state.get("deps")
    if deps is not None and deps.writer is not None:
        await deps.writer.close()


async def webhook_worker(runtime: Runtime) -> None:
    """Background task: deliver due webhooks, retrying with backoff (state lives in the database)."""
    s = runtime.settings
    async with httpx.AsyncClient() as client:
        while True:
            try:
                n = await service.deliver_due(runtime.session_factory, service.deps_of(runtime), client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook delivery loop failed", error=repr(exc))
                n = 0
            if n == 0:
                await asyncio.sleep(s.webhook_poll_interval)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    def get_deps() -> service.Deps:
        return service.deps_of(app.state.runtime)  # bound late: the runtime exists once the app does

    app = create_service_app(
        settings,
        title="Fengqiao intake",
        description="Intake: grid-event reports, walk-in petitions, external demands, Open311 GeoReport v2, "
        "case status and timeline, webhooks, satisfaction follow-up, duplicates",
        routers=[cases.router, catalogue.router, attachments.router, weak_signals.router, webhooks.router,
                 open311.router],
        consumers=consumer_specs(get_deps),
        background=[webhook_worker],
        on_start=[_wire],
        on_stop=[_unwire],
    )
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes,
                       limits={"/api/v1/attachments": settings.attachment_max_bytes + 64 * 1024})
    return app
