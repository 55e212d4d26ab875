"""Unit tests (pure logic): which failures are the infrastructure's, and what an HTTP client then sees."""

import asyncpg
import httpx
from fastapi import FastAPI
from fengqiao_common.errors import install_error_handlers
from fengqiao_events.consumer import is_connection_error, is_transient_conflict
from sqlalchemy.exc import DBAPIError, IntegrityError


def wrapped(pg_error: Exception) -> DBAPIError:
    """As SQLAlchemy's asyncpg dialect raises it: a generic DBAPI wrapper whose cause is asyncpg's error."""
    orig = Exception("adapted")
    orig.__cause__ = pg_error
    return DBAPIError("SELECT 1", {}, orig)


def test_database_restarting_or_away_is_a_connection_error():
    assert is_connection_error(wrapped(asyncpg.CannotConnectNowError("the database system is starting up")))
    assert is_connection_error(wrapped(asyncpg.AdminShutdownError("terminating connection")))
    assert is_connection_error(wrapped(asyncpg.exceptions.CrashShutdownError("crash")))
    assert is_connection_error(wrapped(asyncpg.exceptions.ConnectionFailureError("08006")))
    assert is_connection_error(ConnectionRefusedError())


def test_message_faults_are_not_connection_errors():
    assert not is_connection_error(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_connection_error(wrapped(asyncpg.UniqueViolationError("duplicate key")))
    assert not is_connection_error(ValueError("bad payload"))


def test_lock_races_are_transient():
    assert is_transient_conflict(wrapped(asyncpg.DeadlockDetectedError("deadlock detected")))
    assert is_transient_conflict(wrapped(asyncpg.SerializationError("could not serialize")))
    assert not is_transient_conflict(wrapped(asyncpg.UniqueViolationError("duplicate key")))


async def test_http_request_during_a_database_outage_gets_503_not_500():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/away")
    async def away():
        raise wrapped(asyncpg.CannotConnectNowError("the database system is starting up"))

    @app.get("/bug")
    async def bug():
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/away")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert r.json()["error"] == "unavailable" and r.json()["message_zh"]
        assert (await c.get("/bug")).status_code == 500
