"""Composition root of the intake service: ``uvicorn --factory fengqiao_intake.main:create_app``."""

from __future__ import annotations

import httpx
import structlog
from fastapi import FastAPI
from fengqiao_common.app import Runtime, create_service_app
from fengqiao_common.bodylimit import BodyLimitMiddleware
from fengqiao_common.sms import dev_router
from fengqiao_common.worker import periodic

from . import consumers, deps
from .adapters.egress import HttpSender
from .api import (
    attachments,
    cases,
    catalogue,
    duplicates,
    follow_ups,
    open311,
    public,
    related,
    weak_signals,
    webhooks,
)
from .config import Settings
from .domain.webhooks import RetryPolicy
from .usecases.notifications import SmsPump
from .usecases.pseudonyms import rekey_requesters
from .usecases.webhook_delivery import DeliveryPump

WEBHOOK_BATCH = 20
log = structlog.get_logger("fengqiao.intake")


async def _seed(runtime: Runtime) -> None:
    if runtime.settings.demo_data:
        from .demo import seed

        await seed(runtime.deps)


async def _close(runtime: Runtime) -> None:
    if runtime.deps is not None:
        await runtime.deps.close()


async def webhook_worker(runtime: Runtime) -> None:
    """Background task: deliver due webhooks, retrying with backoff (state lives in the database); up to
    ``INTAKE_WEBHOOK_CONCURRENCY`` sends in flight, each within one deadline."""
    d: deps.Deps = runtime.deps
    s = d.settings
    policy = RetryPolicy(s.webhook_max_attempts, s.webhook_backoff_base, s.webhook_backoff_max)
    async with httpx.AsyncClient() as client:
        pump = DeliveryPump(d.uow, sender=HttpSender(client, s), policy=policy, lease_seconds=s.webhook_lease_seconds,
                            clock=d.clock, concurrency=s.webhook_concurrency, batch=WEBHOOK_BATCH)
        try:
            await periodic(pump.step, s.webhook_poll_interval, name="webhooks")
        finally:
            await pump.close()


async def sms_worker(runtime: Runtime) -> None:
    """Background task: send the residents' due messages (the SMS outbox), each send key once."""
    d: deps.Deps = runtime.deps
    if d.ctx.sms is None or d.sms is None:
        return
    pump = SmsPump(d.uow, d.sms, d.ctx.sms, clock=d.clock, batch=d.settings.sms_batch)
    await periodic(pump.step, d.settings.sms_poll_interval, name="sms", busy_at=d.settings.sms_batch)


async def requester_rekey(runtime: Runtime) -> None:
    """Background task, once at start-up: requester refs from before the HMAC recomputed with the key
    (batches of ``INTAKE_REKEY_BATCH``; replicas share the work through SKIP LOCKED)."""
    d: deps.Deps = runtime.deps
    total = 0
    while n := await rekey_requesters(d.uow(), key=d.settings.requester_key_bytes, batch=d.settings.rekey_batch):
        total += n
    if total:
        log.info("requester refs rekeyed with the HMAC", rows=total)


def _simulator(app: FastAPI):
    runtime = getattr(app.state, "runtime", None)
    return runtime.deps.simulator if runtime is not None and runtime.deps is not None else None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    group = consumers.CONSUMER_GROUP  # read now: a test may patch it around create_app

    routers = [cases.router, catalogue.router, attachments.router, weak_signals.router, webhooks.router,
               open311.router, public.router, follow_ups.router, duplicates.router, related.router]
    if settings.environment != "production" and settings.sms_provider == "simulator":
        routers.append(dev_router(lambda: _simulator(app)))  # what the simulator "sent": /dev/sms
    app = create_service_app(
        settings,
        title="Fengqiao intake",
        description="Intake: grid-event reports, walk-in petitions, external demands, Open311 GeoReport v2, "
        "case status and timeline, webhooks, satisfaction follow-up, duplicates",
        routers=routers,
        deps=deps.build,
        consumers=lambda runtime: consumers.specs(runtime, group=group),
        background=[webhook_worker, requester_rekey, sms_worker],
        on_start=[_seed],
        on_stop=[_close],
    )
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes,
                       limits={"/api/v1/attachments": settings.attachment_max_bytes + 64 * 1024})
    return app
