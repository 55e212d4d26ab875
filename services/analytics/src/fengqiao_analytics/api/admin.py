"""Rebuild: replay every topic from the beginning into fresh read models."""

from __future__ import annotations

from fastapi import APIRouter

from ..usecases import rebuild as uc
from .access import PREFIX, Admin, DepsDep
from .schemas import RebuildStarted, RebuildStatus

router = APIRouter(prefix=f"{PREFIX}/admin", tags=["admin"])


@router.post("/rebuild", status_code=202, operation_id="analytics_rebuild", response_model=RebuildStarted,
             summary="Empty the read models and replay all topics from the beginning (new consumer group)")
async def rebuild(deps: DepsDep, _: Admin):
    # without a consumer in this process, another replica follows the new generation
    return await uc.rebuild(deps.uow(), consumer_group=deps.settings.consumer_group, supervisor=deps.supervisor)


@router.get("/status", operation_id="analytics_rebuild_status", response_model=RebuildStatus,
            summary="Read-model generation and progress")
async def status(deps: DepsDep, _: Admin):
    return await uc.status(deps.uow(), consumer_group=deps.settings.consumer_group)
