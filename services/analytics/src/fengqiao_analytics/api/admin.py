"""Rebuild: replay every topic from the beginning into fresh read models."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fengqiao_common.db import Session

from .. import service
from .deps import PREFIX, Admin, CtxDep

router = APIRouter(prefix=f"{PREFIX}/admin", tags=["admin"])


@router.post("/rebuild", status_code=202, operation_id="analytics_rebuild",
             summary="Empty the read models and replay all topics from the beginning (new consumer group)")
async def rebuild(request: Request, ctx: CtxDep, session: Session, _: Admin):
    supervisor = request.app.state.runtime.state.get("supervisor")
    if supervisor is not None:
        gen = await supervisor.rebuild()
    else:  # consumers disabled in this process: another replica follows the new generation
        gen = await service.reset_read_models(ctx, session)
    return {"generation": gen, "consumer_group": service.group_name(ctx.settings, gen), "status": "replaying"}


@router.get("/status", operation_id="analytics_rebuild_status", summary="Read-model generation and progress")
async def status(ctx: CtxDep, session: Session, _: Admin):
    return await service.rebuild_status(ctx, session)
