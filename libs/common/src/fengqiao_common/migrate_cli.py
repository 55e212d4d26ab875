"""Run a service's Alembic migrations as a one-off step (docker compose job, Kubernetes Job, runbook).

    python -m fengqiao_common.migrate_cli <service> [--revision head] [--url URL]
                                          [--create-database] [--wait 120] [--sql]

The database URL comes from ``--url`` or ``<SERVICE>_DATABASE_URL`` (``postgresql+asyncpg://...``), the
same variable the service reads. The command waits up to ``--wait`` seconds for the server to accept
connections (a database that starts at the same time), then upgrades to ``--revision`` and exits 0; any
failure exits non-zero so the job, and whatever depends on it, fails visibly. ``--create-database`` creates
the database first when the role may (development; production databases are provisioned beforehand).
``--sql`` prints the migration SQL instead of running it (offline mode, for review by a DBA).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from pathlib import Path

import asyncpg

SERVICES = ("intake", "dispatch", "mediation", "analytics", "gateway")


def service_dir(service: str) -> Path:
    return importlib.import_module(f"fengqiao_{service}").SERVICE_DIR


def database_url(service: str, url: str | None = None) -> str:
    value = url or os.environ.get(f"{service.upper()}_DATABASE_URL")
    if not value:
        raise SystemExit(f"set {service.upper()}_DATABASE_URL or pass --url")
    if not value.startswith("postgresql"):
        raise SystemExit(f"{service.upper()}_DATABASE_URL must be a postgresql+asyncpg:// URL")
    return value


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def wait_for_server(url: str, wait: float) -> None:
    """Wait until the server accepts a connection (to the target database, or `postgres` if that is missing)."""
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + wait
    while True:
        try:
            conn = await asyncpg.connect(_plain(url), timeout=5)
            await conn.close()
            return
        except asyncpg.InvalidCatalogNameError:
            conn = await asyncpg.connect(admin, timeout=5)  # server is up, database not yet created
            await conn.close()
            return
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"database server not reachable after {wait:.0f}s: {exc!r}") from exc
            print("waiting for the database server ...", file=sys.stderr)
            await asyncio.sleep(2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fengqiao_common.migrate_cli",
                                 description="Run a service's Alembic migrations.")
    ap.add_argument("service", choices=SERVICES)
    ap.add_argument("--revision", default="head")
    ap.add_argument("--url", help="database URL (default: <SERVICE>_DATABASE_URL)")
    ap.add_argument("--create-database", action="store_true", help="create the database if it is missing")
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the server")
    ap.add_argument("--sql", action="store_true", help="print the SQL (offline mode) instead of running it")
    args = ap.parse_args(argv)

    from .db import alembic_config, ensure_database, migrate_sync

    url = database_url(args.service, args.url)
    sdir = service_dir(args.service)
    if args.sql:
        from alembic import command

        command.upgrade(alembic_config(sdir, url), args.revision, sql=True)
        return 0
    asyncio.run(wait_for_server(url, args.wait))
    if args.create_database:
        asyncio.run(ensure_database(url))
    migrate_sync(sdir, url, args.revision)
    print(f"{args.service}: migrated to {args.revision}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
