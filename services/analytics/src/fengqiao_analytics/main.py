"""Composition root of the analytics service: ``uvicorn --factory fengqiao_analytics.main:create_app``."""

from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.bodylimit import BodyLimitMiddleware

from . import deps
from .api import admin, exports, screen, signals, situation
from .config import Settings


async def read_models(runtime: Runtime) -> None:
    """The read-model consumer of the current generation (follows rebuilds); consumers.py wires it."""
    if runtime.deps.supervisor is not None:
        await runtime.deps.supervisor.run()


async def live_updates(runtime: Runtime) -> None:
    await runtime.deps.hub.run()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Fengqiao analytics",
        description="Analytics: read models, situation API, weak-signal ledger, big screen",
        routers=[situation.router, signals.router, exports.router, admin.router, screen.router],
        deps=deps.build,
        background=[read_models, live_updates],
        openapi_tags=[{"name": "situation"}, {"name": "weak signals"}, {"name": "exports"}, {"name": "admin"},
                      {"name": "screen"}],
    )
    # refuses NUL characters in paths and queries (400, as every service) and oversized bodies (413)
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes)
    return app
