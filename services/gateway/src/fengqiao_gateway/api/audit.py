"""/api/v1/admin/audit: the audit log (admin role)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from ..deps import DepsDep
from ..usecases import audit as uc
from .access import AdminDep
from .schemas import AuditOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/audit", operation_id="admin_audit_log", response_model=list[AuditOut],
            summary="Audit log: who did what to which case, when, from where / 审计日志")
async def audit(_: AdminDep, deps: DepsDep, actor_id: str | None = None, object_id: str | None = None,
                action: str | None = Query(None, max_length=128), since: datetime | None = None,
                until: datetime | None = None, before_id: int | None = Query(None, ge=1, le=2**63 - 1),
                limit: int = Query(100, ge=1, le=500)):
    return await uc.list_audit(deps.uow(), actor_id=actor_id, object_id=object_id, action=action, since=since,
                               until=until, before_id=before_id, limit=limit)
