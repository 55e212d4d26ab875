"""/api/v1/admin/audit: the audit log, searched (JSON) and exported (CSV) by admins and the data-protection
officer (dpo). Every search and export is itself audited."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from fengqiao_common.validation import IsoDateTime

from ..deps import DepsDep
from ..usecases import audit as uc
from .access import AuditorDep, CallerDep
from .schemas import AuditOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

_OBJECT = Query(None, max_length=128, description="a resident's case (id or number) or any object id")


def _query(actor_id, object_id, action, since, until) -> uc.AuditQuery:
    return uc.AuditQuery(actor_id=actor_id, object_id=object_id, action=action, since=since, until=until)


@router.get("/audit", operation_id="admin_audit_log", response_model=list[AuditOut],
            summary="Audit log: who read or changed which resident's data, when, from where / 审计日志")
async def audit(s: AuditorDep, deps: DepsDep, caller: CallerDep, request: Request,
                actor_id: str | None = Query(None, max_length=64), object_id: str | None = _OBJECT,
                action: str | None = Query(None, max_length=128), since: IsoDateTime | None = None,
                until: IsoDateTime | None = None, before_id: int | None = Query(None, ge=1, le=2**63 - 1),
                limit: int = Query(100, ge=1, le=500)):
    q = _query(actor_id, object_id, action, since, until)
    await uc.record_search(deps.audit, deps.clock, s.principal, caller, action="admin.audit.search",
                           path=request.url.path, q=q)
    return await uc.list_audit(deps.uow(), actor_id=actor_id, object_id=object_id, action=action, since=since,
                               until=until, before_id=before_id, limit=limit)


@router.get("/audit/export.csv", operation_id="admin_audit_export", response_class=StreamingResponse,
            responses={200: {"description": "the matching audit rows as CSV (UTF-8 with BOM, newest first; "
                                            "cells beginning with = + - @ tab or CR carry a leading apostrophe)",
                             "content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="Audit log as CSV (by resident, user, period) / 审计日志导出")
async def audit_export(s: AuditorDep, deps: DepsDep, caller: CallerDep, request: Request,
                       actor_id: str | None = Query(None, max_length=64), object_id: str | None = _OBJECT,
                       action: str | None = Query(None, max_length=128), since: IsoDateTime | None = None,
                       until: IsoDateTime | None = None) -> StreamingResponse:
    q = _query(actor_id, object_id, action, since, until)
    await uc.record_search(deps.audit, deps.clock, s.principal, caller, action="admin.audit.export",
                           path=request.url.path, q=q)
    return StreamingResponse(uc.export_csv(deps.uow, q), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
