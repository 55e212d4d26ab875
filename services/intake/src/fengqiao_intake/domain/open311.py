"""Open311 GeoReport v2 shapes (JSON and XML) and the mapping of our statuses to the spec's.

Field names and element names follow the GeoReport v2 specification; the updates feed follows
FixMyStreet's ``servicerequestupdates`` extension.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from .timeline import note

REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)
UPDATE_FIELDS = ("update_id", "service_request_id", "status", "updated_datetime", "description", "media_url")

# GeoReport: open | closed
def spec_status(status: str) -> str:
    return "closed" if status in ("closed", "merged") else "open"


# FixMyStreet's richer states for the updates feed
FMS_STATUS = {
    "reported": "open",
    "accepted": "investigating",
    "returned": "investigating",
    "reopened": "open",
    "dispatched": "action_scheduled",
    "on_site": "in_progress",
    "resolved": "fixed",
    "closed": "closed",
    "merged": "duplicate",
}


def w3c(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_w3c(value: str) -> datetime:
    v = value.strip().replace("Z", "+00:00").replace(" ", "+") if "T" in value else value.strip()
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _append(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _append(el, "value" if not isinstance(item, dict) else item.pop("__tag__", "item"), item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _append(el, k, v)
    else:
        t = _text(value)
        if t is not None:
            el.text = t


def to_xml(root: str, item_tag: str, items: list[dict]) -> bytes:
    top = ET.Element(root)
    for item in items:
        el = ET.SubElement(top, item_tag)
        for k, v in item.items():
            _append(el, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8")


def service_definition_xml(defn: dict) -> bytes:
    top = ET.Element("service_definition")
    _append(top, "service_code", defn["service_code"])
    attrs = ET.SubElement(top, "attributes")
    for a in defn["attributes"]:
        el = ET.SubElement(attrs, "attribute")
        for k in ("variable", "code", "datatype", "required", "datatype_description", "order", "description"):
            _append(el, k, a.get(k))
        values = ET.SubElement(el, "values")
        for v in a.get("values", []):
            ve = ET.SubElement(values, "value")
            _append(ve, "key", v["key"])
            _append(ve, "name", v["name"])
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8")


def errors_xml(errors: list[dict]) -> bytes:
    return to_xml("errors", "error", errors)


def service_entry(domain) -> dict:
    """One entry of the service list (a domain of the catalogue)."""
    return {
        "service_code": domain.code, "service_name": domain.name,
        "description": f"{domain.name}（{domain.code}）", "metadata": True, "type": "realtime",
        "keywords": domain.code, "group": "8+N",
    }


def service_definition(code: str, grids) -> dict:
    """The attributes a request of any service may carry."""
    return {
        "service_code": code,
        "attributes": [
            {"variable": True, "code": "people_involved", "datatype": "number", "required": False,
             "datatype_description": "integer ≥ 0", "order": 1, "description": "涉及人数 / number of people involved",
             "values": []},
            {"variable": True, "code": "grid", "datatype": "singlevaluelist", "required": False,
             "datatype_description": None, "order": 2, "description": "网格 / grid",
             "values": [{"key": g.code, "name": g.name} for g in grids]},
            {"variable": True, "code": "occurred_at", "datatype": "datetime", "required": False,
             "datatype_description": "W3C datetime with offset", "order": 3,
             "description": "发生时间 / when it happened", "values": []},
        ],
    }


def request_view(c: dict, ctx: dict, jurisdiction) -> dict:
    """A case as a GeoReport request; ``ctx``: the latest order's department and deadline, the latest note."""
    dept = jurisdiction.department(ctx.get("department") or "")
    dom = jurisdiction.domain(c["category"])
    notes = ctx.get("note")
    return {
        "service_request_id": c["case_no"],
        "status": spec_status(c["status"]),
        "status_notes": notes,
        "service_name": dom.name if dom else c["category"],
        "service_code": c["category"],
        "description": c["description"],
        "agency_responsible": dept.name if dept else None,
        "service_notice": None,
        "requested_datetime": w3c(c["reported_at"]),
        "updated_datetime": w3c(c["updated_at"]),
        "expected_datetime": ctx.get("resolve_by"),
        "address": c["address"],
        "address_id": None,
        "zipcode": None,
        "lat": c["lat"],
        "long": c["lon"],
        "media_url": c["media_url"],
    }


# ~100 m: 0.001° of latitude is 111 m, of longitude at 22°N 103 m
PUBLIC_DECIMALS = 3


def coarsen(value: float | None, decimals: int = PUBLIC_DECIMALS) -> float | None:
    return None if value is None else round(value, decimals)


def public_request_view(c: dict, ctx: dict, jurisdiction) -> dict:
    """The anonymous feed's request: the same GeoReport fields, but no free text beyond the service name
    (``description`` is the service name, ``status_notes`` the status label only), the location rounded
    to ~100 m, the address the grid / community name, no photo. Never a name, phone or exact address."""
    full = request_view(c, ctx, jurisdiction)
    grid = jurisdiction.grid(c["grid"]) if c.get("grid") else None
    community = jurisdiction.community(c["community"]) if c.get("community") else None
    area = grid.name if grid else (community.name if community else None)
    kind = ctx.get("note_kind")
    return {**full, "description": full["service_name"], "status_notes": status_label(kind) if kind else None,
            "address": area, "lat": coarsen(c["lat"]), "long": coarsen(c["lon"]), "media_url": None}


def status_label(kind: str) -> str:
    """The registry's bilingual label of a timeline kind, without the event's detail text."""
    return note(kind)
