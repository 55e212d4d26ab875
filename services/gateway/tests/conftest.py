"""Gateway test fixtures: fake upstream services on free ports (routing test doubles that echo the verified
identity), a real database and broker from the devstack plugin, and a running gateway app."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fengqiao_common.auth import IDENTITY_HEADER, verify_identity
from fengqiao_common.settings import DEV_SECRET
from fengqiao_devstack.postgres import free_port
from fengqiao_gateway.config import Settings
from fengqiao_gateway.main import create_app


def fake_service(name: str, control: dict) -> FastAPI:
    app = FastAPI(title=f"fake {name}", openapi_url=None)

    @app.get("/readyz")
    async def readyz():
        ok = control.get(f"{name}_ready", True)
        return JSONResponse({"status": "ready" if ok else "not_ready"}, status_code=200 if ok else 503)

    @app.get("/openapi.json")
    async def openapi():
        # every fake service defines a different "Item" schema (a clash) and the same "Shared" one
        prefix = {"intake": "/api/v1/cases", "dispatch": "/api/v1/orders", "mediation": "/api/v1/mediation",
                  "analytics": "/api/v1/analytics"}[name]
        return {
            "openapi": "3.1.0", "info": {"title": name, "version": "1"},
            "paths": {
                prefix: {"get": {"operationId": "list_items", "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}},
                "/internal/secret": {"get": {"operationId": "internal", "responses": {"200": {"description": "x"}}}},
            },
            "components": {"schemas": {
                "Item": {"type": "object", "properties": {f"{name}_field": {"type": "string"}}},
                "Shared": {"type": "object", "properties": {"x": {"type": "integer"}}},
            }},
        }

    @app.get("/screen/stream")
    async def stream():
        """An endless Server-Sent Events stream, as analytics' big screen has."""
        async def events():
            control["streams_open"] = control.get("streams_open", 0) + 1
            try:
                yield "retry: 1000\n\n"
                while True:
                    await asyncio.sleep(1)
                    yield "data: tick\n\n"
            finally:
                control["streams_open"] -= 1

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(path: str, request: Request):
        control.setdefault("calls", []).append((name, request.method, request.url.path))
        token = request.headers.get(IDENTITY_HEADER)
        identity = verify_identity(token, DEV_SECRET).model_dump() if token else None
        body = await request.body()
        if path.endswith("slow"):
            await asyncio.sleep(5)
        status = 201 if request.method == "POST" and request.query_params.get("create") else 200
        payload = {
            "service": name, "method": request.method, "path": request.url.path, "query": request.url.query,
            "identity": identity, "request_id": request.headers.get("x-request-id"),
            "forwarded_for": request.headers.get("x-forwarded-for"),
            "api_key_header": request.headers.get("x-api-key"), "authorization": request.headers.get("authorization"),
            "body": body.decode("utf-8", "replace"),
        }
        headers = {}
        segs = path.split("/")
        if request.method == "GET" and name == "intake" and segs[:3] == ["api", "v1", "cases"] and len(segs) == 4:
            # intake's audit declaration (docs/design.md): the personal fields in the answer, purpose, subjects
            headers = {"X-Fengqiao-Audit-Fields": "name,phone,id_number(masked)",
                       "X-Fengqiao-Audit-Purpose": "handling", "X-Fengqiao-Audit-Subjects": segs[3]}
        if status == 201:
            payload["id"] = f"{name}-{uuid.uuid4().hex[:6]}-1"
            how = request.query_params.get("create")
            if how == "header":
                headers["X-Fengqiao-Object-Id"] = payload["id"]
            elif how == "location":
                headers["Location"] = f"/{path}/{payload['id']}"
        return JSONResponse(payload, status_code=status, headers=headers)

    return app


@pytest.fixture(scope="session")
async def fake_upstreams():
    """Four fake services on free ports; yields (base urls, control dict)."""
    control: dict = {}
    servers, tasks, urls = [], [], {}
    for name in ("intake", "dispatch", "mediation", "analytics"):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(fake_service(name, control), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))
        servers.append(server)
        tasks.append(asyncio.create_task(server.serve()))
        urls[f"{name}_url"] = f"http://127.0.0.1:{port}"
    for s in servers:
        while not s.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
    yield urls, control
    for s in servers:
        s.should_exit = True
    for t in tasks:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(t, 5)


@pytest.fixture
async def gateway_settings(service_settings, fake_upstreams, tmp_path):
    """Factory: ``await gateway_settings(**overrides)``: settings of a gateway on a fresh database."""
    urls, _control = fake_upstreams

    async def make(suffix: str | None = None, **overrides) -> Settings:
        values = {**urls, "run_consumers": False, "demo_credentials_file": tmp_path / "demo.json",
                  "password_hash_time_cost": 1, "password_hash_memory_kib": 8192, "metrics_port": 0,
                  "audit_spool_dir": tmp_path / "audit-spool", **overrides}
        return await service_settings(Settings, "gateway", suffix=suffix or uuid.uuid4().hex[:8], **values)

    return make


@pytest.fixture
async def make_gateway(gateway_settings):
    """Factory: ``async with make_gateway(**overrides) as (client, app)``; a fresh database per test."""

    @contextlib.asynccontextmanager
    async def make(suffix: str | None = None, **overrides):
        app = create_app(await gateway_settings(suffix, **overrides))
        async with LifespanManager(app, startup_timeout=60), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5555)), base_url="http://gw"
        ) as client:
            yield client, app

    return make


@contextlib.asynccontextmanager
async def serve(app):
    """Run ``app`` (lifespan included) on a real uvicorn server on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 10)


def freeze(app, now: float = 1_800_000_010.0) -> None:
    """Pin the limiter's clock inside one window so counts are exact."""
    app.state.runtime.deps.limiter.clock = lambda: now


async def create_user(app, **fields) -> dict:
    """Create a user directly through the use case (the admin API is tested on its own)."""
    from fengqiao_common.auth import Principal
    from fengqiao_gateway.domain.audit import Caller
    from fengqiao_gateway.usecases import users

    deps = app.state.runtime.deps
    fields.setdefault("password", "Passw0rd-123")
    fields.setdefault("display_name", fields["username"])
    for k in ("department", "mediator_id", "party_id"):
        fields.setdefault(k, None)
    fields.setdefault("grids", [])
    password = fields["password"]
    out = await users.create_user(deps.uow(), Principal(sub="test", roles=["admin"]), dict(fields),
                                  passwords=deps.passwords, codes=deps.codes, caller=Caller())
    return {**out, "password": password}


async def login(client: httpx.AsyncClient, username: str, password: str = "Passw0rd-123") -> dict:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
