"""/console: the staff web console (Vue 3 + Element Plus, built by Vite into web/dist by `make`), and a few vendored files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from fengqiao_common.errors import not_found

from .. import SERVICE_DIR

router = APIRouter(include_in_schema=False)
VENDOR = frozenset({"swagger-ui-dist"})
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon", ".webmanifest": "application/manifest+json"}


def web_dir(request: Request) -> Path:
    configured = request.app.state.runtime.deps.settings.console_dir
    return Path(configured) if configured else SERVICE_DIR / "web"


def _safe(root: Path, rel: str) -> Path:
    p = (root / rel).resolve()
    if not p.is_relative_to(root.resolve()) or not p.is_file():
        raise not_found("file", "文件")
    return p


def vendor_available(request: Request, package: str) -> bool:
    return (web_dir(request) / "node_modules" / package).is_dir()


FILE = {200: {"description": "a file of the console", "content": {"text/html": {}, "text/javascript": {},
                                                                   "text/css": {}}}}


@router.get("/console", response_class=RedirectResponse, status_code=308)
async def console_root():
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/vendor/{package}/{file:path}", response_class=FileResponse, responses=FILE)
async def vendor(package: str, file: str, request: Request):
    if package not in VENDOR:
        raise not_found("file", "文件")
    p = _safe(web_dir(request) / "node_modules" / package, file)
    return FileResponse(p, media_type=TYPES.get(p.suffix))


@router.get("/console/{file:path}", response_class=FileResponse, responses=FILE)
async def console_file(file: str, request: Request):
    root = web_dir(request) / "dist"
    p = _safe(root, file or "index.html")
    # hashed asset names change with every build: cache them for good, never the page that names them
    cache = "public, max-age=31536000, immutable" if file.startswith("assets/") else "no-cache"
    return FileResponse(p, media_type=TYPES.get(p.suffix), headers={"Cache-Control": cache})
