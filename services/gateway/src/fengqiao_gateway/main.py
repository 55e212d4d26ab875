"""Composition root of the gateway service: ``uvicorn --factory fengqiao_gateway.main:create_app``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.bodylimit import BodyLimitMiddleware
from fengqiao_common.errors import Unauthenticated, to_api_error
from fengqiao_common.metrics import router as common_metrics_router
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from . import deps as deps_mod
from .adapters import credentials_file
from .adapters.metrics_server import MetricsServer
from .api import audit, auth, console, docs, health, keys, proxy, users
from .config import Settings
from .deps import Deps
from .middleware import SecurityHeadersMiddleware
from .usecases.demo import seed_demo

OWN_DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
REPLACED_ROUTES = {"/readyz", "/metrics"}
UPLOAD_PREFIXES = ("/api/v1/attachments",)  # the only paths with the upload limit, whatever the content type


def body_limits(settings: Settings) -> dict[str, int]:
    """Body limits by path prefix (the default elsewhere): photos on uploads, a few KiB on login and refresh."""
    return {**{p: settings.max_upload_bytes for p in UPLOAD_PREFIXES},
            "/api/v1/auth": min(settings.max_body_bytes, settings.auth_max_body_bytes)}


def create_app(settings: Settings | None = None, *, upstream_transport=None) -> FastAPI:
    settings = settings or Settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per forwarded request is too many

    async def build(runtime: Runtime) -> Deps:
        return await deps_mod.build(runtime, upstream_transport)

    metrics_server = MetricsServer(settings.metrics_host, settings.metrics_port)

    async def start(runtime: Runtime) -> None:
        d: Deps = runtime.deps
        if settings.demo_data:
            path = settings.demo_credentials_file
            doc = await seed_demo(d.uow(), jurisdiction=d.jurisdiction, passwords=d.passwords,
                                  previous=credentials_file.read(path))
            credentials_file.write(path, doc)
        metrics_server.start()

    async def stop(runtime: Runtime) -> None:
        metrics_server.stop()
        if runtime.deps is not None:
            await runtime.deps.close()

    async def audit_writer(runtime: Runtime) -> None:
        await runtime.deps.audit.run()

    app = create_service_app(
        settings,
        title="Fengqiao gateway",
        description="The public entry point: authentication, routing to the services, staff console",
        routers=[health.router, auth.router, users.router, keys.router, audit.router, docs.router, console.router,
                 proxy.router],
        background=[audit_writer],
        on_start=[start],
        on_stop=[stop],
        deps=build,
        openapi_tags=[{"name": "auth", "description": "Staff login and tokens / 登录与令牌"},
                      {"name": "admin", "description": "Users, API keys, audit log / 用户、密钥、审计"}],
    )

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated):
        err = to_api_error(exc)
        return JSONResponse(err.body(), status_code=err.status, headers={"WWW-Authenticate": "Bearer"})

    common_http_handler = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        """413 bodies name the limit in both languages, also when the body was counted while streaming."""
        if exc.status_code != 413:
            return await common_http_handler(request, exc)
        limit = body_limit(request.url.path)
        zh, en = f"请求体过大（上限 {limit} 字节）", f"request body too large (limit {limit} bytes)"
        return JSONResponse({"error": "http_413", "message": f"{zh} / {en}", "message_zh": zh, "message_en": en,
                             "fields": []}, status_code=413, headers={"Connection": "close"})

    # FastAPI's own /openapi.json and /docs give way to the merged document of the whole public API; the
    # common /readyz to the gateway's own (api/health.py); /metrics is served on the internal port only
    app.router.routes[:] = [r for r in app.router.routes if not (
        (getattr(r, "path", None) in OWN_DOC_ROUTES and r.endpoint.__module__.startswith("fastapi"))
        or (getattr(r, "path", None) in REPLACED_ROUTES and not r.endpoint.__module__.startswith(__package__))
        or getattr(r, "original_router", None) is common_metrics_router)]
    limits = body_limits(settings)

    def body_limit(path: str) -> int:
        return next((n for prefix, n in limits.items() if path.startswith(prefix)), settings.max_body_bytes)

    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes, limits=limits)
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    return app
