"""Composition root of the gateway service: ``uvicorn --factory fengqiao_gateway.main:create_app``."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app
from starlette.middleware.cors import CORSMiddleware

from . import demo
from . import state as state_mod
from .api import admin, auth, console, docs, proxy
from .config import Settings
from .middleware import BodyLimitMiddleware, SecurityHeadersMiddleware

OWN_DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def create_app(settings: Settings | None = None, *, upstream_transport=None) -> FastAPI:
    settings = settings or Settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per forwarded request is too many

    async def start(runtime: Runtime) -> None:
        runtime.state["gw"] = state_mod.build(runtime, upstream_transport)
        if settings.demo_data:
            await demo.seed(runtime)

    async def stop(runtime: Runtime) -> None:
        gw = runtime.state.get("gw")
        if gw is not None:
            await gw.upstreams.close()
            await gw.limiter.close()

    async def audit_writer(runtime: Runtime) -> None:
        await runtime.state["gw"].audit.run()

    async def services_ready(runtime: Runtime) -> dict[str, str]:
        gw = runtime.state["gw"]
        names = list(settings.upstreams())
        results = await asyncio.gather(*(gw.upstreams.get_json(n, "/readyz") for n in names))
        checks = {n: "ok" if status == 200 else ("unavailable" if status == 0 else "not_ready")
                  for n, (status, _body) in zip(names, results, strict=True)}
        if settings.redis_url:
            checks["redis"] = "ok" if await gw.limiter.ping() else "unavailable"
        return checks

    app = create_service_app(
        settings,
        title="Fengqiao gateway",
        description="The public entry point: authentication, routing to the services, staff console",
        routers=[auth.router, admin.router, docs.router, console.router, proxy.router],
        background=[audit_writer],
        on_start=[start],
        on_stop=[stop],
        readiness_extra=services_ready,
        openapi_tags=[{"name": "auth", "description": "Staff login and tokens / 登录与令牌"},
                      {"name": "admin", "description": "Users, API keys, audit log / 用户、密钥、审计"}],
    )
    # FastAPI's own /openapi.json and /docs give way to the merged document of the whole public API
    app.router.routes[:] = [r for r in app.router.routes
                            if not (getattr(r, "path", None) in OWN_DOC_ROUTES and r.endpoint.__module__
                                    .startswith("fastapi"))]
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    return app
