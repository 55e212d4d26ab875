"""Response shapes (personal data masked unless the caller may read it)."""

from __future__ import annotations

from fastapi import Request
from fengqiao_common.auth import Principal
from fengqiao_common.logging import request_id_var

from ..domain import access, csvsafe
from ..domain.open311 import spec_status


def access_context(request: Request) -> access.AccessContext:
    """The request id and the client address the gateway forwarded (its X-Forwarded-For holds one hop:
    the client it determined), else the peer."""
    forwarded = request.headers.get("x-forwarded-for")
    address = forwarded.split(",")[-1].strip() if forwarded else (request.client.host if request.client else None)
    return access.AccessContext(request_id=request_id_var.get() or request.headers.get("x-request-id"),
                                client_address=address or None)


def shaped(c: dict, view: access.View) -> dict:
    """A case whose parties are shown through ``view`` (answers to creates and staff actions)."""
    return {**c, "parties": access.shape_parties(c["parties"], view)}


def created_summary(c: dict, principal: Principal) -> dict:
    return case_summary(shaped(c, access.echo_view(principal)))


def action_summary(c: dict) -> dict:
    """The answer to a staff action: it confirms the action; the parties are read on the detail."""
    return case_summary(shaped(c, access.MASKED))


def case_summary(c: dict) -> dict:
    """``c["parties"]`` already shaped for the reader (``domain/access.py``)."""
    return {
        "id": c["id"], "case_no": c["case_no"], "status": c["status"], "open311_status": spec_status(c["status"]),
        "channel": c["channel"], "sub_channel": c["sub_channel"], "source_system": c["source_system"],
        "external_ref": c["external_ref"], "category": c["category"], "grade": c["grade"],
        "grade_reasons": c["grade_reasons"], "keywords": c["keywords"], "district": c["district"],
        "street": c["street"], "community": c["community"], "grid": c["grid"],
        "location": {"lat": c["lat"], "lon": c["lon"], "address": c["address"]},
        "summary": c["summary"], "description": c["description"], "people_involved": c["people_involved"],
        "parties": c["parties"],
        "occurred_at": c["occurred_at"], "reported_at": c["reported_at"], "status_at": c["status_at"],
        "updated_at": c["updated_at"], "duplicate_of": c["duplicate_of"], "merged_into": c["merged_into"],
        "last_rating": c["last_rating"],
    }


def timeline_entry(t: dict) -> dict:
    return {"at": t["at"], "kind": t["kind"], "status_effect": t["status_effect"], "actor": t["actor"],
            "department": t["department"], "note": t["note"], "detail": t["detail"]}


def attachment_meta(a: dict) -> dict:
    return {"id": a["id"], "case_id": a["case_id"], "filename": a["filename"], "content_type": a["content_type"],
            "kind": a["kind"], "size": a["size"], "sha256": a["sha256"], "created_at": a["created_at"],
            "url": f"/api/v1/attachments/{a['id']}"}


CSV_COLUMNS = ("case_no", "status", "channel", "sub_channel", "source_system", "category", "grade", "district",
               "street", "community", "grid", "address", "summary", "people_involved", "reported_at", "parties")


def cases_csv(items: list[dict]) -> bytes:
    """UTF-8 with a BOM (spreadsheets open Chinese text correctly); no cell can start a formula."""
    rows = []
    for c in items:
        parties = "; ".join(
            "/".join(str(p.get(k) or "") for k in ("role", "name", "phone", "id_card")) for p in c["parties"])
        row = {**c, "address": c["location"]["address"], "parties": parties}
        rows.append([row.get(k) for k in CSV_COLUMNS])
    return csvsafe.to_csv(CSV_COLUMNS, rows)
