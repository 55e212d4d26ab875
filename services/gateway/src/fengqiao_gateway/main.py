"""Composition root of the gateway service: ``uvicorn --factory fengqiao_gateway.main:create_app``."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.bodylimit import BodyLimitMiddleware
from fengqiao_common.errors import Unauthenticated, to_api_error
from starlette.middleware.cors import CORSMiddleware

from . import deps as deps_mod
from .adapters import credentials_file
from .api import audit, auth, console, docs, keys, proxy, users
from .config import Settings
from .deps import Deps
from .middleware import SecurityHeadersMiddleware
from .usecases.demo import seed_demo

OWN_DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
UPLOAD_PREFIXES = ("/api/v1/attachments",)


def create_app(settings: Settings | None = None, *, upstream_transport=None) -> FastAPI:
    settings = settings or Settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per forwarded request is too many

    async def build(runtime: Runtime) -> Deps:
        return await deps_mod.build(runtime, upstream_transport)

    async def start(runtime: Runtime) -> None:
        d: Deps = runtime.deps
        if settings.demo_data:
            path = settings.demo_credentials_file
            doc = await seed_demo(d.uow(), jurisdiction=d.jurisdiction, passwords=d.passwords,
                                  previous=credentials_file.read(path))
            credentials_file.write(path, doc)

    async def stop(runtime: Runtime) -> None:
        if runtime.deps is not None:
            await runtime.deps.close()

    async def audit_writer(runtime: Runtime) -> None:
        await runtime.deps.audit.run()

    async def services_ready(runtime: Runtime) -> dict[str, str]:
        d: Deps = runtime.deps
        names = list(settings.upstreams())
        results = await asyncio.gather(*(d.upstreams.get_json(n, "/readyz") for n in names))
        checks = {n: "ok" if status == 200 else ("unavailable" if status == 0 else "not_ready")
                  for n, (status, _body) in zip(names, results, strict=True)}
        if settings.redis_url:
            checks["redis"] = "ok" if await d.limiter.ping() else "unavailable"
        return checks

    app = create_service_app(
        settings,
        title="Fengqiao gateway",
        description="The public entry point: authentication, routing to the services, staff console",
        routers=[auth.router, users.router, keys.router, audit.router, docs.router, console.router, proxy.router],
        background=[audit_writer],
        on_start=[start],
        on_stop=[stop],
        deps=build,
        readiness_extra=services_ready,
        openapi_tags=[{"name": "auth", "description": "Staff login and tokens / 登录与令牌"},
                      {"name": "admin", "description": "Users, API keys, audit log / 用户、密钥、审计"}],
    )

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated):
        err = to_api_error(exc)
        return JSONResponse(err.body(), status_code=err.status, headers={"WWW-Authenticate": "Bearer"})

    # FastAPI's own /openapi.json and /docs give way to the merged document of the whole public API
    app.router.routes[:] = [r for r in app.router.routes
                            if not (getattr(r, "path", None) in OWN_DOC_ROUTES and r.endpoint.__module__
                                    .startswith("fastapi"))]
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes,
                       limits={p: settings.max_upload_bytes for p in UPLOAD_PREFIXES})
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    return app
