"""The composition root every service uses: a :class:`Runtime` (engine, sessions, producer, outbox
relay, consumers, background tasks) and :func:`create_service_app` (FastAPI app with health,
metrics, error handlers and the runtime started in the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fengqiao_events import EventConsumer, Outbox, OutboxRelay, ProducerHolder
from fengqiao_events.consumer import BatchHandler, Handler
from fengqiao_events.registry import trusted_sources
from sqlalchemy import text

from . import jurisdiction as jurisdiction_mod
from .clock import SYSTEM_CLOCK, Clock
from .db import make_engine, make_session_factory
from .errors import install_error_handlers
from .logging import configure_logging
from .metrics import BROKER_UP, ObservabilityMiddleware
from .metrics import router as metrics_router
from .settings import ServiceSettings

log = structlog.get_logger("fengqiao.app")
D = TypeVar("D")
# reported in /readyz but not deciding it: the broker (outbox rows wait while it is away)
INFORMATIONAL_CHECKS = frozenset({"kafka"})


@dataclass
class ConsumerSpec:
    """A consumer group of this service: ``name`` is the group id, handlers are keyed by topic.

    ``ignores`` names the topics of the owners this group follows that it deliberately does not
    handle (checked by a test: every registered type of a followed owner is handled or ignored).
    ``batch_handler`` folds a whole poll at once and must equal the per-message handlers' effect.
    """

    name: str
    handlers: dict[str, Handler]
    ignores: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None


BackgroundFactory = Callable[["Runtime"], Awaitable[Any]]
Hook = Callable[["Runtime"], Awaitable[None]]
DepsFactory = Callable[["Runtime"], Awaitable[Any]]
ConsumersFactory = Callable[["Runtime"], Sequence[ConsumerSpec]]


def deps_getter(cls: type[D]) -> Callable[[Request], Awaitable[D]]:
    """A FastAPI dependency returning the service's typed dependencies object; use it as
    ``DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]``."""

    async def get_deps(request: Request) -> D:  # async: FastAPI would run a plain def in the thread pool
        deps = request.app.state.runtime.deps
        if deps is None:  # pragma: no cover - only before start-up
            raise RuntimeError("service dependencies are not built yet")
        return deps

    get_deps.__name__ = f"get_{cls.__name__.lower()}"
    return get_deps


@dataclass
class Runtime:
    """The process's wiring. ``deps`` is the service's typed dependencies object, built by the
    ``deps`` hook of :func:`create_service_app` at start-up (before consumers and workers start);
    ``clock`` is read by that hook, so a test sets ``runtime.clock = ManualClock(...)`` first."""

    settings: ServiceSettings
    consumer_specs: Sequence[ConsumerSpec] | ConsumersFactory = ()
    background: Sequence[BackgroundFactory] = ()
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    deps_factory: DepsFactory | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.engine = make_engine(s.database_url, pool_size=s.db_pool_size, max_overflow=s.db_max_overflow)
        self.session_factory = make_session_factory(self.engine)
        self.producer = ProducerHolder(s.kafka_bootstrap_servers, f"fengqiao-{s.service_name}",
                                       security=s.kafka_security())
        self.outbox = Outbox(source=f"/fengqiao/{s.service_name}")
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self.tasks: list[asyncio.Task] = []
        self._jurisdiction = None
        self.clock: Clock = SYSTEM_CLOCK
        self.deps: Any = None

    @property
    def jurisdiction(self) -> jurisdiction_mod.Jurisdiction:
        if self._jurisdiction is None:
            self._jurisdiction = jurisdiction_mod.load(str(self.settings.jurisdiction_file))
        return self._jurisdiction

    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def start(self) -> None:
        s = self.settings
        if self.deps_factory is not None and self.deps is None:
            self.deps = await self.deps_factory(self)
        for hook in self.on_start:
            await hook(self)
        if s.run_relay:
            self.relay = OutboxRelay(
                s.asyncpg_dsn, self.producer, service=s.service_name, batch_size=s.outbox_batch_size,
                poll_interval=s.outbox_poll_interval, retention_days=s.outbox_retention_days,
            )
            self.spawn(self.relay.run(), "outbox-relay")
        if s.run_consumers:
            for spec in self.specs():
                c = EventConsumer(
                    name=spec.name, bootstrap=s.kafka_bootstrap_servers, session_factory=self.session_factory,
                    handlers=spec.handlers, producer=self.producer, max_attempts=s.consumer_max_attempts,
                    batch_size=s.consumer_batch_size, batch_handler=spec.batch_handler,
                    security=self.producer.security, trusted_sources=trusted_sources,
                )
                self.consumers.append(c)
                self.spawn(c.run(), f"consumer-{spec.name}")
        for factory in self.background:
            self.spawn(factory(self), getattr(factory, "__name__", "background"))

    def specs(self) -> list[ConsumerSpec]:
        """This service's consumer groups (a factory is called with the runtime)."""
        cs = self.consumer_specs
        return list(cs(self) if callable(cs) else cs)

    async def stop(self) -> None:
        if self.relay:
            self.relay.stop()
        for c in self.consumers:
            c.stop()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 5)
        for hook in self.on_stop:
            with contextlib.suppress(Exception):
                await hook(self)
        await self.producer.stop()
        await self.engine.dispose()

    async def check_database(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
            return True
        except Exception:
            return False

    async def readiness(self) -> dict[str, str]:
        """What the process depends on. Only the database decides readiness (a write needs only
        PostgreSQL: events wait in the outbox while the broker is away); the broker's state is
        reported beside it and exported as ``fq_broker_up`` for alerting."""
        db, kafka = await asyncio.gather(self.check_database(), self.producer.ping())
        BROKER_UP.labels(self.settings.service_name).set(1 if kafka else 0)
        return {"database": "ok" if db else "unavailable", "kafka": "ok" if kafka else "unavailable"}


def enable_tracing(app: FastAPI, service: str) -> bool:
    """OpenTelemetry, off unless FQ_TRACING / OTEL_EXPORTER_OTLP_ENDPOINT say otherwise: server spans,
    client spans on httpx, and the W3C context carried through Kafka as ce_traceparent/ce_tracestate."""
    from fengqiao_events import hooks

    from . import tracing

    if not tracing.instrument_app(app, service):
        return False
    tracing.instrument_httpx()
    if tracing.inject_kafka_headers not in hooks.outgoing_header_hooks:
        hooks.outgoing_header_hooks.append(tracing.inject_kafka_headers)
    hooks.consume_span = tracing.consume_span
    return True


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str = "",
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[ConsumerSpec] | ConsumersFactory = (),
    background: Sequence[BackgroundFactory] = (),
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
    deps: DepsFactory | None = None,
    readiness_extra: Callable[[Runtime], Awaitable[dict[str, str]]] | None = None,
    openapi_tags: list[dict] | None = None,
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)
    runtime = Runtime(settings, consumers, background, on_start, on_stop, deps)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        log.info("service started", port=settings.port)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service stopped")

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  openapi_tags=openapi_tags)
    app.state.runtime = runtime
    enable_tracing(app, settings.service_name)
    install_error_handlers(app)
    app.add_middleware(ObservabilityMiddleware, service=settings.service_name)

    @app.get("/healthz", tags=["health"], summary="Liveness", operation_id=f"{settings.service_name}_healthz",
             include_in_schema=False)
    async def healthz():
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["health"], summary="Readiness", operation_id=f"{settings.service_name}_readyz",
             include_in_schema=False)
    async def readyz():
        checks = await runtime.readiness()
        if readiness_extra is not None:
            checks.update(await readiness_extra(runtime))
        ok = all(v == "ok" for k, v in checks.items() if k not in INFORMATIONAL_CHECKS)
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "service": settings.service_name, "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/readyz/self", tags=["health"], include_in_schema=False)
    async def readyz_self():
        """This process's own dependencies only (for load-balancer probes of the gateway, whose /readyz
        also includes every upstream service)."""
        checks = await runtime.readiness()
        ok = all(v == "ok" for k, v in checks.items() if k not in INFORMATIONAL_CHECKS)
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "service": settings.service_name, "checks": checks},
            status_code=200 if ok else 503,
        )

    app.include_router(metrics_router)
    for r in routers:
        app.include_router(r)
    return app
