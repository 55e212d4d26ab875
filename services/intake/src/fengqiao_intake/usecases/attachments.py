"""Attachments: upload (type from content, size-limited, content-addressed), then read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound, TooLarge, Unsupported, field_error
from fengqiao_common.ids import new_id

from ..domain import access
from ..domain import attachments as rules
from ..domain import idempotency as idem
from .common import Created, bad, visible_case

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

SCOPE = "attachment"


@dataclass
class Upload:
    filename: str | None
    data: bytes
    idempotency_key: str | None = None


async def _replayed(uow: IntakeUoW, caller: str, key: str, request_hash: str) -> Created | None:
    hit = await uow.idempotency.lookup(caller, SCOPE, key)
    if hit is None:
        return None
    idem.replay(hit[0], request_hash)
    return Created(await uow.attachments.get(hit[1]), False)


async def store_attachment(uow: IntakeUoW, principal: Principal, cmd: Upload, *, storage, max_bytes: int) -> Created:
    filename = rules.clean_filename(cmd.filename)
    data, key = cmd.data, cmd.idempotency_key
    request_hash = rules.request_hash(data, filename)
    if key:
        async with uow:
            if replayed := await _replayed(uow, principal.sub, key, request_hash):
                return replayed
    if len(data) > max_bytes:
        raise TooLarge(f"附件超过 {max_bytes} 字节上限", f"attachment exceeds the {max_bytes}-byte limit",
                       code="attachment_too_large",
                       fields=[field_error("file", "too_large", "附件过大", "attachment too large", ["body", "file"])])
    if not data:
        raise bad("file", "附件为空", "the file is empty", "empty")
    mime = rules.detect_type(data)
    if mime not in rules.ALLOWED_TYPES:
        raise Unsupported(f"不支持的文件类型（按内容识别：{mime or '未知'}）",
                          f"file type not allowed (detected from content: {mime or 'unknown'})",
                          fields=[field_error("file", "unsupported_type", "文件类型不允许", "file type not allowed",
                                              ["body", "file"])])
    digest, storage_key = rules.content_key(data)
    await storage.put(storage_key, data, mime)
    try:
        async with uow:
            row = {
                "id": new_id(), "case_id": None, "uploaded_by": principal.sub, "filename": filename,
                "content_type": mime, "kind": rules.ALLOWED_TYPES[mime], "size": len(data), "sha256": digest,
                "storage": storage.name, "storage_key": storage_key, "created_at": uow.now(),
            }
            await uow.attachments.add(row)
            if key:
                await uow.idempotency.claim(principal.sub, SCOPE, key, request_hash, row["id"])
            await uow.commit()
    except idem.KeyTaken:
        async with uow:  # a concurrent retry with the same key came first
            if replayed := await _replayed(uow, principal.sub, key, request_hash):
                return replayed
        raise
    return Created(row, True)


async def read_attachment(uow: IntakeUoW, principal: Principal, attachment_id: str, *, storage,
                          ctx: access.AccessContext = access.AccessContext()) -> tuple[dict, bytes]:
    """The uploader reads their own; anyone else only through a case they may see (404 otherwise), and
    that read is audited (a photo or a document cannot be masked)."""
    async with uow:
        row = await uow.attachments.get(attachment_id)
        if row is None:
            raise NotFound("attachment", "附件")
        if row["uploaded_by"] != principal.sub:
            if row["case_id"] is None:
                raise NotFound("attachment", "附件")
            case = await visible_case(uow, principal, row["case_id"])
            await uow.access_log.add([access.audit_row(
                principal, action="attachment", object_type="attachment", object_id=row["id"], case=case,
                fields=["attachment"], purpose=access.PURPOSE_CASEWORK, role=None, ctx=ctx, at=uow.now())])
            await uow.commit()
    return row, await storage.get(row["storage_key"])
