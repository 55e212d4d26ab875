"""The body of every service's Alembic ``env.py`` (async engine, online and offline modes)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import async_engine_from_config


def run(target_metadata: MetaData, version_table: str = "alembic_version") -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection):
        context.configure(connection=connection, target_metadata=target_metadata, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async():
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    connectable = config.attributes.get("connection")
    if connectable is not None:
        do_run(connectable)
    else:
        asyncio.run(run_async())
