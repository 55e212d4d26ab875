"""The big screen (/screen) and the live streams.

/screen, /screen/static/*, /screen/data, /screen/labels and /screen/stream carry aggregates only (no
personal data) and are anonymous unless ANALYTICS_SCREEN_PUBLIC=false; /api/v1/analytics/stream is the
same stream for signed-in dashboards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fengqiao_common.errors import NotFound
from sse_starlette import EventSourceResponse

from .. import SERVICE_DIR
from ..usecases import screen
from .access import PREFIX, Deps, DepsDep, Reader, ScreenViewer
from .schemas import EventLabel, ScreenSnapshot

router = APIRouter(tags=["screen"])
STATIC_DIR = SERVICE_DIR / "web" / "static"
VENDOR = {"echarts.min.js": SERVICE_DIR / "web" / "node_modules" / "echarts" / "dist" / "echarts.min.js"}
NO_CACHE = {"Cache-Control": "no-store"}
SSE_RESPONSES = {200: {"description": "Server-sent events: `event: snapshot`, `data:` a ScreenSnapshot as JSON",
                       "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
HTML = {200: {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}}
ASSET = {200: {"description": "A static asset (JavaScript, CSS)", "content": {"*/*": {}}}}


def _stream(deps: Deps) -> EventSourceResponse:
    hub = deps.hub

    async def events():
        q = hub.subscribe()
        try:
            first = await screen.snapshot(deps.uow(), deps.context)
            yield {"event": "snapshot", "data": json.dumps(first, ensure_ascii=False, default=str)}
            while True:
                snap = await q.get()
                yield {"event": "snapshot", "data": json.dumps(snap, ensure_ascii=False, default=str)}
        except asyncio.CancelledError:
            raise
        finally:
            hub.unsubscribe(q)

    return EventSourceResponse(events(), ping=15, headers={"X-Accel-Buffering": "no", **NO_CACHE})


@router.get("/screen", include_in_schema=False, response_class=FileResponse, responses=HTML)
async def screen_page(_: ScreenViewer) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=NO_CACHE)


@router.get("/screen/", include_in_schema=False, response_class=RedirectResponse,
            responses={308: {"description": "to /screen"}})
async def screen_slash() -> RedirectResponse:
    return RedirectResponse("/screen", status_code=308)


@router.get("/screen/static/vendor/{name}", include_in_schema=False, response_class=FileResponse, responses=ASSET)
async def vendor(name: str) -> FileResponse:
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        raise NotFound("asset", "资源")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/screen/static/{name}", include_in_schema=False, response_class=FileResponse, responses=ASSET)
async def static(name: str) -> FileResponse:
    path = (STATIC_DIR / name).resolve()
    if Path(STATIC_DIR.resolve()) not in path.parents or not path.is_file():
        raise NotFound("asset", "资源")
    return FileResponse(path, headers=NO_CACHE)


@router.get("/screen/data", operation_id="analytics_screen_data", response_model=ScreenSnapshot,
            summary="Everything the big screen shows (aggregates only, no personal data)")
async def screen_data(deps: DepsDep, _: ScreenViewer):
    return await screen.snapshot(deps.uow(), deps.context)


@router.get("/screen/labels", operation_id="analytics_event_labels", response_model=dict[str, EventLabel],
            summary="The label of every event type, {topic: {zh, en}} (from the event registry)")
async def event_labels(_: ScreenViewer):
    return screen.event_labels()


@router.get("/screen/stream", operation_id="analytics_screen_stream", response_class=EventSourceResponse,
            responses=SSE_RESPONSES,
            summary="Server-sent events: a 'snapshot' event within moments of every change")
async def screen_stream(deps: DepsDep, _: ScreenViewer) -> EventSourceResponse:
    return _stream(deps)


@router.get(f"{PREFIX}/stream", operation_id="analytics_stream", response_class=EventSourceResponse,
            responses=SSE_RESPONSES, summary="Live updates (SSE) for dashboards")
async def stream(deps: DepsDep, _: Reader) -> EventSourceResponse:
    return _stream(deps)
