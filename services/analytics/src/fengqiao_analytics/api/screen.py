"""The big screen (/screen) and the live streams.

/screen, /screen/static/*, /screen/data and /screen/stream carry aggregates only (no personal data) and
are anonymous unless ANALYTICS_SCREEN_PUBLIC=false; /api/v1/analytics/stream is the same stream for
signed-in dashboards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from fengqiao_common.db import Session
from fengqiao_common.errors import not_found
from sse_starlette import EventSourceResponse

from .. import SERVICE_DIR, queries
from .deps import PREFIX, CtxDep, Reader, ScreenViewer

router = APIRouter(tags=["screen"])
STATIC_DIR = SERVICE_DIR / "web" / "static"
VENDOR = {"echarts.min.js": SERVICE_DIR / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js"}
NO_CACHE = {"Cache-Control": "no-store"}


def _stream(request: Request):
    hub = request.app.state.runtime.state["hub"]
    ctx = request.app.state.runtime.state["ctx"]
    sessions = request.app.state.runtime.session_factory

    async def events():
        q = hub.subscribe()
        try:
            async with sessions() as s:
                first = await queries.screen_snapshot(ctx, s)
            yield {"event": "snapshot", "data": json.dumps(first, ensure_ascii=False, default=str)}
            while True:
                snap = await q.get()
                yield {"event": "snapshot", "data": json.dumps(snap, ensure_ascii=False, default=str)}
        except asyncio.CancelledError:
            raise
        finally:
            hub.unsubscribe(q)

    return EventSourceResponse(events(), ping=15, headers={"X-Accel-Buffering": "no", **NO_CACHE})


@router.get("/screen", include_in_schema=False)
async def screen_page(_: ScreenViewer):
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=NO_CACHE)


@router.get("/screen/", include_in_schema=False)
async def screen_slash():
    return RedirectResponse("/screen", status_code=308)


@router.get("/screen/static/vendor/{name}", include_in_schema=False)
async def vendor(name: str):
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        raise not_found("asset", "资源")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/screen/static/{name}", include_in_schema=False)
async def static(name: str):
    path = (STATIC_DIR / name).resolve()
    if Path(STATIC_DIR.resolve()) not in path.parents or not path.is_file():
        raise not_found("asset", "资源")
    return FileResponse(path, headers=NO_CACHE)


@router.get("/screen/data", operation_id="analytics_screen_data",
            summary="Everything the big screen shows (aggregates only, no personal data)")
async def screen_data(ctx: CtxDep, session: Session, _: ScreenViewer):
    return await queries.screen_snapshot(ctx, session)


@router.get("/screen/stream", operation_id="analytics_screen_stream",
            summary="Server-sent events: a 'snapshot' event within moments of every change")
async def screen_stream(request: Request, _: ScreenViewer):
    return _stream(request)


@router.get(f"{PREFIX}/stream", operation_id="analytics_stream", summary="Live updates (SSE) for dashboards")
async def stream(request: Request, _: Reader):
    return _stream(request)
