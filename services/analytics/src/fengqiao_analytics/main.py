"""Composition root of the analytics service: ``uvicorn --factory fengqiao_analytics.main:create_app``."""

from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app

from . import queries
from .adapters.live import LiveHub
from .api import admin, exports, screen, signals, situation
from .config import Settings
from .consumers import ConsumerSupervisor
from .service import Ctx


async def _wire(runtime: Runtime) -> None:
    ctx = Ctx(runtime.settings, runtime.jurisdiction, runtime.outbox)
    runtime.state["ctx"] = ctx

    async def snapshot():
        async with runtime.session_factory() as s:
            return await queries.screen_snapshot(ctx, s)

    runtime.state["hub"] = LiveHub(runtime.settings.asyncpg_dsn, snapshot, runtime.settings.stream_interval)
    if runtime.settings.run_consumers:
        runtime.state["supervisor"] = ConsumerSupervisor(runtime, ctx)


async def read_models(runtime: Runtime) -> None:
    sup = runtime.state.get("supervisor")
    if sup is not None:
        await sup.run()


async def live_updates(runtime: Runtime) -> None:
    await runtime.state["hub"].run()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Fengqiao analytics",
        description="Analytics: read models, situation API, weak-signal ledger, big screen",
        routers=[situation.router, signals.router, exports.router, admin.router, screen.router],
        on_start=[_wire],
        background=[read_models, live_updates],
        openapi_tags=[{"name": "situation"}, {"name": "weak signals"}, {"name": "exports"}, {"name": "admin"},
                      {"name": "screen"}],
    )
