"""What an audited request did, to which object: derived from the method and path. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fengqiao_common.auth import Principal
from fengqiao_common.ids import new_id

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS = frozenset({"GET", "HEAD"})
# routes whose answers carry residents' personal data: every read through them is audited
PERSONAL_PREFIXES = ("/api/v1/cases", "/api/v1/attachments", "/api/v1/mediation")
# set by the owning service on its answer (the contract in docs/design.md, "Identity and authorization");
# recorded by the gateway and never passed on to the client
FIELDS_HEADER = "x-fengqiao-audit-fields"  # e.g. "name,phone,id_number(masked)"
PURPOSE_HEADER = "x-fengqiao-audit-purpose"  # e.g. "handling", "mediation", "export"
SUBJECTS_HEADER = "x-fengqiao-audit-subjects"  # ids / case numbers of the objects in the answer
OBJECT_ID_HEADER = "x-fengqiao-object-id"  # the id of the object a 201 created (or the one read)
INTERNAL_HEADERS = frozenset({FIELDS_HEADER, PURPOSE_HEADER, SUBJECTS_HEADER, OBJECT_ID_HEADER})
MAX_SUBJECTS = 200
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


def is_personal(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PERSONAL_PREFIXES) or path.split("?")[0].endswith(
        ("/export.csv", "/export.xlsx", "/export"))


def audited(method: str, path: str, *, keyed_open311: bool, fields: str | None) -> bool:
    """Writes always; reads of personal-data routes, exports, Open311 reads with an API key, and any answer
    whose service names the personal fields it returned."""
    if method in MUTATING or fields:
        return True
    return method in READS and (keyed_open311 or is_personal(path))


def field_list(value: str | None) -> str | None:
    """``"name, phone,id_number(masked)"`` -> ``"name,phone,id_number(masked)"`` (cut to the column)."""
    if not value:
        return None
    out = ",".join(f.strip() for f in value.split(",") if f.strip())
    return out[:512] or None


def subject_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    out = [v.strip() for v in value.split(",") if _SEG.match(v.strip())][:MAX_SUBJECTS]
    return out or None


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell no spreadsheet reads as a formula: text beginning with = + - @ tab or CR gets an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


CSV_COLUMNS = ("id", "at", "actor_id", "actor_kind", "actor_name", "actor_role", "department", "action", "method",
               "path", "object_type", "object_id", "subjects", "fields", "purpose", "status", "ip", "user_agent",
               "request_id")


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
                  "DELETE": "delete", "GET": "read" if object_id else "list",
                  "HEAD": "read" if object_id else "list"}.get(method, method.lower())]
    return Target(".".join([otype, *words]), object_type, object_id)


def object_id_from_headers(object_id: str | None, location: str | None) -> str | None:
    """The created object's id as the service named it: ``X-Fengqiao-Object-Id``, else the last segment of
    ``Location`` when it is an id (``/api/v1/cases/C-9`` -> ``C-9``)."""
    if object_id and _SEG.match(object_id.strip()):
        return object_id.strip()
    if location:
        last = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if _is_id(last):
            return last
    return None


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
              status: int | None = None, detail: dict | None = None, fields: str | None = None,
              purpose: str | None = None, subjects: list[str] | None = None) -> dict:
    """One row of the audit log (values cut to the column sizes); ``uid`` makes writing it again harmless."""
    return {
        "uid": new_id(), "fields": fields, "purpose": (purpose or "")[:64] or None, "subjects": subjects,
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
