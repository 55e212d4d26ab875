"""The audit log: reading it (admin), and the rows of proxied writes (queued, written in batches)."""

from __future__ import annotations

from datetime import datetime

from fengqiao_common.auth import Principal
from fengqiao_common.clock import Clock

from ..adapters.audit_writer import AuditWriter
from ..adapters.uow import GatewayUoW
from ..domain import audit
from ..domain.audit import Caller


async def list_audit(uow: GatewayUoW, *, actor_id: str | None = None, object_id: str | None = None,
                     action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                     before_id: int | None = None, limit: int = 100) -> list[dict]:
    """Newest first; ``action`` matches as a prefix; ``before_id`` pages back."""
    async with uow:
        return await uow.audit.list(actor_id=actor_id, object_id=object_id, action=action, since=since,
                                    until=until, before_id=before_id, limit=limit)


def record_forwarded(writer: AuditWriter, clock: Clock, principal: Principal | None, caller: Caller, *,
                     method: str, path: str, service: str, status: int, created_id: str | None = None) -> None:
    """Queue the audit row of a write forwarded to ``service`` (never on the request path)."""
    target = audit.describe(method, path)
    writer.record(audit.audit_row(principal, caller, at=clock.now(), action=target.action, method=method, path=path,
                                  object_type=target.object_type, object_id=target.object_id or created_id,
                                  status=status, detail={"service": service}))
