"""Database engine, sessions and migrations (one database per service)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, pool_recycle=1800
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request (never shared between tasks)."""
    async with request.app.state.runtime.session_factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist (development and tests)."""
    u = make_url(url)
    name = u.database
    admin = u.set(database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


def alembic_config(service_dir: Path, url: str):
    from alembic.config import Config

    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_MIGRATE_LOCK = threading.Lock()


def migrate_sync(service_dir: Path, url: str, revision: str = "head") -> None:
    """Run Alembic migrations up to ``revision`` (blocking; call from a thread in async code).

    Alembic's ``context`` is process-global, so migrations in one process run one at a time.
    """
    from alembic import command

    with _MIGRATE_LOCK:
        command.upgrade(alembic_config(service_dir, url), revision)


async def migrate(service_dir: Path, url: str, revision: str = "head") -> None:
    await ensure_database(url)
    await asyncio.to_thread(migrate_sync, service_dir, url, revision)
