"""What an audited request did, to which object: derived from the method and path. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fengqiao_common.auth import Principal

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID_KEYS = ("id", "case_id", "order_id", "mediation_id", "booking_id", "service_request_id")
_SEG = re.compile(r"^[A-Za-z0-9_.:\-]{1,80}$")


@dataclass(frozen=True)
class Target:
    action: str  # e.g. "orders.sign"
    object_type: str | None
    object_id: str | None


def _is_id(seg: str) -> bool:
    """Object ids (UUIDs, case numbers, O-17) carry digits; resource names and verbs do not."""
    return bool(_SEG.match(seg)) and any(ch.isdigit() for ch in seg)


def describe(method: str, path: str) -> Target:
    """``POST /api/v1/orders/O-17/sign`` -> ``orders.sign`` on ``orders`` ``O-17``;
    ``POST /api/v1/dispatch/cases/C-1/orders`` -> ``dispatch.cases.orders`` on ``cases`` ``C-1``."""
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        segs = segs[2:]
    elif segs[:2] == ["open311", "v2"]:  # /open311/v2/requests.json, /open311/v2/requests/77.json
        segs = [s.rsplit(".", 1)[0] for s in segs[2:]]
        segs = [f"open311.{segs[0]}", *segs[1:]] if segs else ["open311"]
    if not segs:
        return Target(f"{method.lower()}", None, None)
    otype, object_type, object_id = segs[0], segs[0], None
    words = []
    for i, seg in enumerate(segs[1:], 1):
        if _is_id(seg):
            object_type, object_id = segs[i - 1], seg
        else:
            words.append(seg)
    if not words or _is_id(segs[-1]):
        words = [*words, {"POST": "create" if object_id is None else "post", "PUT": "replace", "PATCH": "update",
                  "DELETE": "delete"}.get(method, method.lower())]
    return Target(".".join([otype, *words]), object_type, object_id)


def created_id(body: object) -> str | None:
    """The id of a created object in a JSON response body, if there is one."""
    if isinstance(body, list) and len(body) == 1:  # Open311 answers with a one-element list
        body = body[0]
    if isinstance(body, dict):
        for k in _ID_KEYS:
            v = body.get(k)
            if isinstance(v, str | int):
                return str(v)
    return None


@dataclass(frozen=True)
class Caller:
    """Where a request comes from, for the audit log."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


def audit_row(principal: Principal | None, caller: Caller, *, at: datetime, action: str, method: str | None = None,
              path: str | None = None, object_type: str | None = None, object_id: str | None = None,
              status: int | None = None, detail: dict | None = None) -> dict:
    """One row of the audit log (values cut to the column sizes)."""
    return {
        "at": at, "request_id": caller.request_id,
        "actor_id": principal.sub if principal else None,
        "actor_kind": principal.kind if principal else None,
        "actor_name": (principal.name or "")[:100] if principal else None,
        "actor_role": principal.role if principal else None,
        "department": principal.department if principal else None,
        "action": action[:128], "method": method, "path": (path or "")[:512] or None,
        "object_type": object_type, "object_id": (object_id or "")[:128] or None, "status": status,
        "ip": caller.ip, "user_agent": (caller.user_agent or "")[:256] or None, "detail": detail,
    }
