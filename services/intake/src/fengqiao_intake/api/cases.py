"""/api/v1/cases: grid-event reports, walk-in petitions, external demands, reading, staff actions."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import DISPATCHER, EXTERNAL_SYSTEM, GRID_WORKER, CurrentPrincipal, require_roles
from fengqiao_common.db import Session

from .. import service
from ..domain.status import STATUSES
from ..schemas import DemandIn, GridEventIn, MergeIn, PetitionIn, RatingIn, RegradeIn
from . import AppDeps, IdempotencyKey
from .views import attachment_meta, case_summary, cases_csv, timeline_entry

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


def _created(response: Response, row: dict, created: bool, principal) -> dict:
    response.status_code = 201 if created else 200
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/cases/{row['id']}"
    dup = row.get("duplicate_of")
    return {**case_summary(row, principal), "duplicate_flagged": dup is not None}


@router.post("/grid-events", status_code=201, operation_id="report_grid_event",
             dependencies=[require_roles(GRID_WORKER, DISPATCHER)],
             summary="A grid worker reports an event in one of their grids")
async def report_grid_event(body: GridEventIn, response: Response, d: AppDeps,
                            principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    row, created = await service.report_grid_event(d, principal, body, idempotency_key)
    return _created(response, row, created, principal)


@router.post("/petitions", status_code=201, operation_id="register_petition",
             dependencies=[require_roles(DISPATCHER)],
             summary="Centre staff register a walk-in petition (信访超市)")
async def register_petition(body: PetitionIn, response: Response, d: AppDeps,
                            principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    row, created = await service.register_petition(d, principal, body, idempotency_key)
    return _created(response, row, created, principal)


@router.post("/demands", status_code=201, operation_id="submit_demand",
             dependencies=[require_roles(EXTERNAL_SYSTEM)],
             summary="An external system (粤省事, 粤商通, the government service network) submits a demand")
async def submit_demand(body: DemandIn, response: Response, d: AppDeps,
                        principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    row, created = await service.submit_demand(d, principal, body, idempotency_key)
    return _created(response, row, created, principal)


@router.get("", operation_id="list_cases", summary="Cases visible to the caller (personal data masked)")
async def list_cases(session: Session, principal: CurrentPrincipal,
                     status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                     category: str | None = Query(None, max_length=40),
                     grid: str | None = Query(None, max_length=20),
                     channel: Literal["grid_app", "petition", "external", "open311"] | None = None,
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000)):
    rows, total = await service.list_cases(session, principal, status=status, category=category, grid=grid,
                                           channel=channel, limit=limit, offset=offset)
    return {"items": [case_summary(r, principal) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/export.csv", operation_id="export_cases", response_class=Response,
            summary="CSV export of the visible cases (personal data masked unless the caller may read it)")
async def export_cases(session: Session, principal: CurrentPrincipal,
                       status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                       category: str | None = Query(None, max_length=40),
                       grid: str | None = Query(None, max_length=20),
                       channel: Literal["grid_app", "petition", "external", "open311"] | None = None,
                       limit: int = Query(5000, ge=1, le=50000)):
    rows, _ = await service.list_cases(session, principal, status=status, category=category, grid=grid,
                                       channel=channel, limit=limit, offset=0)
    return Response(cases_csv([case_summary(r, principal) for r in rows]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="cases.csv"'})


@router.get("/{ref}", operation_id="get_case", summary="A case (by id or case number) with status and timeline")
async def get_case(ref: str, session: Session, principal: CurrentPrincipal):
    case = await service.load_case(session, ref, principal)
    tl = await service.case_timeline(session, case["id"])
    atts = await service.case_attachments(session, case["id"])
    nos = await service.case_nos(session, [case["duplicate_of"], case["merged_into"]])
    out = case_summary(case, principal)
    out.update(
        timeline=[timeline_entry(t) for t in tl],
        attachments=[attachment_meta(a) for a in atts],
        requesters=await service.case_requester_count(session, case["id"]),
        duplicate_of_case_no=nos.get(case["duplicate_of"]),
        merged_into_case_no=nos.get(case["merged_into"]),
    )
    return out


@router.post("/{ref}/regrade", operation_id="regrade_case", dependencies=[require_roles(DISPATCHER)],
             summary="Staff change a case's grade, with a reason")
async def regrade(ref: str, body: RegradeIn, session: Session, d: AppDeps, principal: CurrentPrincipal):
    case = await service.regrade(session, d, principal, ref, body)
    return case_summary(case, principal)


@router.post("/{ref}/merge", operation_id="merge_case", dependencies=[require_roles(DISPATCHER)],
             summary="Merge a duplicate into another open case (its requesters move along)")
async def merge(ref: str, body: MergeIn, session: Session, d: AppDeps, principal: CurrentPrincipal):
    source, target = await service.merge(session, d, principal, ref, body)
    return {"case": case_summary(source, principal), "into": case_summary(target, principal)}


@router.post("/{ref}/rating", operation_id="rate_case", dependencies=[require_roles(EXTERNAL_SYSTEM, DISPATCHER)],
             summary="Satisfaction follow-up (回访); 'unsatisfied' reopens the case")
async def rate(ref: str, body: RatingIn, session: Session, d: AppDeps, principal: CurrentPrincipal):
    case = await service.rate(session, d, principal, ref, body)
    return case_summary(case, principal)
