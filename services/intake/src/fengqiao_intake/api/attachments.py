"""/api/v1/attachments: upload (multipart field ``file``), then reference the id in a report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import Response
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.errors import ApiError

from ..domain.access import PURPOSE_CASEWORK, AccessContext, Disclosure
from ..usecases import attachments as uc
from . import DepsDep, IdempotencyKey, replayed
from .schemas import AttachmentMeta, file_response
from .views import access_context, attachment_meta

router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


@router.post("", status_code=201, operation_id="upload_attachment", response_model=AttachmentMeta,
             summary="Upload a photo, audio or document (type checked by content, size-limited, sha256 stored)")
async def upload(response: Response, d: DepsDep, principal: CurrentPrincipal,
                 file: UploadFile = File(...), idempotency_key: IdempotencyKey = None):
    limit = d.settings.attachment_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:  # transport: refused before the use case sees the bytes
        raise ApiError(413, "attachment_too_large", f"附件超过 {limit} 字节上限",
                       f"attachment exceeds the {limit}-byte limit")
    result = await uc.store_attachment(d.uow(), principal, uc.Upload(file.filename, data, idempotency_key),
                                       storage=d.storage, max_bytes=limit)
    replayed(response, result.created)
    return attachment_meta(result.item)


@router.get("/{attachment_id}", operation_id="download_attachment", response_class=Response,
            responses=file_response("application/octet-stream",
                                    "the file's bytes, with its detected content type and X-Content-SHA256"))
async def download(attachment_id: str, d: DepsDep, principal: CurrentPrincipal,
                   ctx: Annotated[AccessContext, Depends(access_context)]) -> Response:
    row, data = await uc.read_attachment(d.uow(), principal, attachment_id, storage=d.storage, ctx=ctx)
    told = Disclosure(("attachment",), PURPOSE_CASEWORK, (row["case_id"],) if row["case_id"] else ())
    return Response(data, media_type=row["content_type"],
                    headers={"X-Content-SHA256": row["sha256"], "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": "attachment", **told.headers()})
