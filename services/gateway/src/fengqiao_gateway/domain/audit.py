"""What an audited request did, to which object: derived from the method and path. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID_KEYS = ("id", "case_id", "order_id", "mediation_id", "booking_id", "service_request_id")
_SEG = re.compile(r"^[A-Za-z0-9_.:\-]{1,80}$")


@dataclass(frozen=True)
class Target:
    action: str  # e.g. "orders.sign"
    object_type: str | None
    object_id: str | None


def describe(method: str, path: str) -> Target:
    """``POST /api/v1/orders/O-1/sign`` -> ``orders.sign`` on ``orders`` ``O-1``."""
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        segs = segs[2:]
    elif segs[:2] == ["open311", "v2"]:  # /open311/v2/requests.json, /open311/v2/requests/77.json
        segs = [s.rsplit(".", 1)[0] for s in segs[2:]]
        segs = [f"open311.{segs[0]}", *segs[1:]] if segs else ["open311"]
    if not segs:
        return Target(f"{method.lower()}", None, None)
    otype = segs[0]
    oid = segs[1] if len(segs) > 1 and _SEG.match(segs[1]) else None
    # the verb is the last non-id segment after the object id; plain verbs otherwise
    rest = segs[2:]
    if rest:
        verb = ".".join(rest)
    else:
        verb = {"POST": "create" if oid is None else "post", "PUT": "replace", "PATCH": "update",
                "DELETE": "delete"}.get(method, method.lower())
    return Target(f"{otype}.{verb}", otype, oid)


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
