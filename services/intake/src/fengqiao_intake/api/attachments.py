"""/api/v1/attachments: upload (multipart field ``file``), then reference the id in a report."""

from __future__ import annotations

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.db import Session
from fengqiao_common.errors import ApiError

from .. import service
from . import AppDeps, IdempotencyKey
from .views import attachment_meta

router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


@router.post("", status_code=201, operation_id="upload_attachment",
             summary="Upload a photo, audio or document (type checked by content, size-limited, sha256 stored)")
async def upload(response: Response, session: Session, d: AppDeps, principal: CurrentPrincipal,
                 file: UploadFile = File(...), idempotency_key: IdempotencyKey = None):
    limit = d.settings.attachment_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "attachment_too_large", f"附件超过 {limit} 字节上限",
                       f"attachment exceeds the {limit}-byte limit")
    row, created = await service.store_attachment(session, d, principal, file.filename, data, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return attachment_meta(row)


@router.get("/{attachment_id}", operation_id="download_attachment", response_class=Response)
async def download(attachment_id: str, session: Session, d: AppDeps, principal: CurrentPrincipal):
    row, data = await service.read_attachment(session, d, principal, attachment_id)
    return Response(data, media_type=row["content_type"],
                    headers={"X-Content-SHA256": row["sha256"], "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": "attachment"})
