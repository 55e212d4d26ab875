"""Response shapes (personal data masked unless the caller may read it)."""

from __future__ import annotations

import csv
import io

from fengqiao_common.auth import Principal

from ..domain import pii
from ..domain.open311 import spec_status


def case_summary(c: dict, principal: Principal) -> dict:
    return {
        "id": c["id"], "case_no": c["case_no"], "status": c["status"], "open311_status": spec_status(c["status"]),
        "channel": c["channel"], "sub_channel": c["sub_channel"], "source_system": c["source_system"],
        "external_ref": c["external_ref"], "category": c["category"], "grade": c["grade"],
        "grade_reasons": c["grade_reasons"], "keywords": c["keywords"], "district": c["district"],
        "street": c["street"], "community": c["community"], "grid": c["grid"],
        "location": {"lat": c["lat"], "lon": c["lon"], "address": c["address"]},
        "summary": c["summary"], "description": c["description"], "people_involved": c["people_involved"],
        "parties": pii.parties_view(c["parties"], principal.may_see_pii),
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
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for c in items:
        parties = "; ".join(
            "/".join(str(p.get(k) or "") for k in ("role", "name", "phone", "id_card")) for p in c["parties"])
        row = {**c, "address": c["location"]["address"], "parties": parties}
        w.writerow([row.get(k) if row.get(k) is not None else "" for k in CSV_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: spreadsheets open Chinese text correctly
