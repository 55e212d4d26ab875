"""The raw baselines' servers (uvicorn factories):

- ``bench.apps:bare_app``: FastAPI, one JSON endpoint, no database.
- ``bench.apps:insert_app``: FastAPI + asyncpg pool; ``POST /items`` runs one transaction that
  inserts a row and an outbox row (the minimum any write use case of ours must do), database from
  ``BENCH_DSN``.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id uuid PRIMARY KEY, title text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bench_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id text NOT NULL UNIQUE, topic text NOT NULL,
    key text NOT NULL, value bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz
);
"""


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/hello")
    async def hello():
        return {"hello": "world"}

    return app


class Item(BaseModel):
    title: str
    body: str


def insert_app() -> FastAPI:
    dsn = os.environ["BENCH_DSN"]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await asyncpg.create_pool(dsn, min_size=5, max_size=20)
        async with app.state.pool.acquire() as c:
            await c.execute(SCHEMA)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/items", status_code=201)
    async def create(item: Item, request: Request):
        item_id = uuid.uuid4()
        event = json.dumps({"id": str(item_id), "title": item.title}).encode()
        async with request.app.state.pool.acquire() as c, c.transaction():
            await c.execute("INSERT INTO items (id, title, body) VALUES ($1, $2, $3)", item_id, item.title, item.body)
            await c.execute("INSERT INTO bench_outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)",
                            str(uuid.uuid4()), "item.created", str(item_id), event)
        return {"id": str(item_id)}

    return app
