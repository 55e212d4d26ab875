"""/openapi.json: one document of the whole public API (the services' documents merged); /docs."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from ..deps import Deps
from ..domain.openapi import merge
from .console import vendor_available

router = APIRouter(include_in_schema=False)
CACHE_SECONDS = 30.0


async def merged_openapi(request: Request) -> dict:
    deps: Deps = request.app.state.runtime.deps
    cached = deps.openapi_cache.get("doc")
    if cached and cached[0] > time.monotonic():
        return cached[1]
    services = list(deps.settings.upstreams())
    results = await asyncio.gather(*(deps.upstreams.get_json(s, "/openapi.json") for s in services))
    specs = {s: (body if status == 200 and isinstance(body, dict) else None) for s, (status, body)
             in zip(services, results, strict=True)}
    app = request.app
    doc = merge(app.openapi(), specs, title="Fengqiao public API / 枫桥公共接口", version=app.version,
                description="One document for the whole public API, served by the gateway. Staff use a bearer "
                            "access token (POST /api/v1/auth/login); external and department systems use "
                            "X-API-Key (or api_key on /open311/v2).")
    if all(v is not None for v in specs.values()):
        deps.openapi_cache["doc"] = (time.monotonic() + CACHE_SECONDS, doc)
    return doc


@router.get("/openapi.json", response_class=JSONResponse,
            responses={200: {"description": "OpenAPI 3.1 document", "content": {"application/json": {}}}})
async def openapi_json(request: Request):
    return JSONResponse(await merged_openapi(request))


@router.get("/docs", response_class=HTMLResponse,
            responses={200: {"description": "Swagger UI", "content": {"text/html": {}}}})
async def docs(request: Request):
    if vendor_available(request, "swagger-ui-dist"):
        base = "/console/vendor/swagger-ui-dist"
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Fengqiao API",
                                   swagger_js_url=f"{base}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{base}/swagger-ui.css",
                                   swagger_favicon_url=f"{base}/favicon-32x32.png")
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Fengqiao API")
