"""/api/v1/cases: grid-event reports, walk-in petitions, external demands, reading, staff actions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fengqiao_common.auth import DISPATCHER, EXTERNAL_SYSTEM, GRID_WORKER, CurrentPrincipal, require_roles
from fengqiao_common.validation import IsoDateTime

from ..domain.access import DATA_PROTECTION_OFFICER, ID_PURPOSES, AccessContext, disclosure, echo_view
from ..domain.status import STATUSES
from ..schemas import DemandIn, GridEventIn, MergeIn, PetitionIn, RatingIn, RegradeIn, TransferIn
from ..usecases import case_admin, reads
from ..usecases import cases as new_cases
from ..usecases.common import Created
from . import DepsDep, IdempotencyKey, replayed
from .schemas import AccessLogPage, CaseCreated, CaseDetail, CaseList, CaseSummary, MergeResult
from .views import (
    access_context,
    action_summary,
    attachment_meta,
    case_summary,
    cases_csv,
    created_summary,
    timeline_entry,
)

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
Channel = Literal["grid_app", "petition", "external", "open311"]
Purpose = Literal[tuple(ID_PURPOSES)]  # type: ignore[valid-type]
AccessCtx = Annotated[AccessContext, Depends(access_context)]


def _created(response: Response, result: Created, principal) -> dict:
    replayed(response, result.created)
    response.headers["Location"] = f"/api/v1/cases/{result.item['id']}"
    response.headers.update(disclosure([(result.item, echo_view(principal))]).headers())
    return {**created_summary(result.item, principal), "duplicate_flagged": result.item.get("duplicate_of") is not None}


@router.post("/grid-events", status_code=201, operation_id="report_grid_event", response_model=CaseCreated,
             dependencies=[require_roles(GRID_WORKER, DISPATCHER)],
             summary="A grid worker reports an event in one of their grids")
async def report_grid_event(body: GridEventIn, response: Response, d: DepsDep,
                            principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    result = await new_cases.report_grid_event(d.case_uow(), principal, body, ctx=d.ctx,
                                               idempotency_key=idempotency_key)
    return _created(response, result, principal)


@router.post("/petitions", status_code=201, operation_id="register_petition", response_model=CaseCreated,
             dependencies=[require_roles(DISPATCHER)],
             summary="Centre staff register a walk-in petition (信访超市)")
async def register_petition(body: PetitionIn, response: Response, d: DepsDep,
                            principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    result = await new_cases.register_petition(d.case_uow(), principal, body, ctx=d.ctx,
                                               idempotency_key=idempotency_key)
    return _created(response, result, principal)


@router.post("/demands", status_code=201, operation_id="submit_demand", response_model=CaseCreated,
             dependencies=[require_roles(EXTERNAL_SYSTEM)],
             summary="An external system (粤省事, 粤商通, the government service network) submits a demand")
async def submit_demand(body: DemandIn, response: Response, d: DepsDep,
                        principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    result = await new_cases.submit_demand(d.case_uow(), principal, body, ctx=d.ctx,
                                           idempotency_key=idempotency_key)
    return _created(response, result, principal)


@router.get("", operation_id="list_cases", response_model=CaseList,
            summary="Cases visible to the caller (personal data masked)")
async def list_cases(d: DepsDep, principal: CurrentPrincipal, response: Response,
                     status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                     category: str | None = Query(None, max_length=40),
                     grid: str | None = Query(None, max_length=20),
                     channel: Channel | None = None,
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000),
                     *, ctx: AccessCtx):
    page = await reads.list_cases(d.uow(), principal, reads.CaseQuery(status, category, grid, channel, limit, offset),
                                  ctx=ctx)
    response.headers.update(page.disclosure.headers())
    return {"items": [case_summary(r) for r in page.items], "total": page.total,
            "limit": page.limit, "offset": page.offset}


@router.get("/export.csv", operation_id="export_cases", response_class=Response,
            responses={200: {"description": "the visible cases as CSV (UTF-8 with BOM)",
                             "content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="CSV export of the visible cases (personal data masked unless the caller may read it)")
async def export_cases(d: DepsDep, principal: CurrentPrincipal,
                       status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                       category: str | None = Query(None, max_length=40),
                       grid: str | None = Query(None, max_length=20),
                       channel: Channel | None = None,
                       limit: int = Query(5000, ge=1, le=50000), *, ctx: AccessCtx) -> Response:
    page = await reads.export_cases(d.uow(), principal, reads.CaseQuery(status, category, grid, channel, limit, 0),
                                    ctx=ctx)
    return Response(cases_csv([case_summary(r) for r in page.items]),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="cases.csv"',
                             **page.disclosure.headers()})


@router.get("/access-log", operation_id="list_pii_access_log", response_model=AccessLogPage,
            dependencies=[require_roles(DATA_PROTECTION_OFFICER)],
            summary="Who read which resident's personal data in full, when, for what (admin, data-protection officer)")
async def pii_access_log(d: DepsDep, principal: CurrentPrincipal,
                         case: str | None = Query(None, max_length=64, description="case id or number"),
                         actor: str | None = Query(None, max_length=200, description="user or API key id"),
                         resident: str | None = Query(None, max_length=30,
                                                      description="a party's phone or ID number (exact)"),
                         since: IsoDateTime | None = None, until: IsoDateTime | None = None,
                         limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=1_000_000)):
    rows, total = await reads.access_log(d.uow(), principal, reads.AccessLogQuery(case, actor, resident, since, until,
                                                                                  limit, offset))
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@router.get("/{ref}", operation_id="get_case", response_model=CaseDetail,
            summary="A case (by id or case number) with status and timeline; the ID number in full only for a "
                    "dispatcher with ?reveal=id_number&purpose=... (recorded)")
async def get_case(ref: str, d: DepsDep, principal: CurrentPrincipal, ctx: AccessCtx, response: Response,
                   reveal: Literal["id_number"] | None = Query(None, description="show the full ID number"),
                   purpose: Purpose | None = Query(None, description="why (required with reveal; recorded)")):
    detail = await reads.get_case(d.uow(), principal, ref, reveal=reads.Reveal(reveal, purpose), ctx=ctx)
    response.headers.update(detail.disclosure.headers())
    return {
        **case_summary(detail.case),
        "timeline": [timeline_entry(t) for t in detail.timeline],
        "attachments": [attachment_meta(a) for a in detail.attachments],
        "requesters": detail.requesters,
        "duplicate_of_case_no": detail.duplicate_of_case_no,
        "merged_into_case_no": detail.merged_into_case_no,
    }


@router.post("/{ref}/regrade", operation_id="regrade_case", response_model=CaseSummary,
             dependencies=[require_roles(DISPATCHER)], summary="Staff change a case's grade, with a reason")
async def regrade(ref: str, body: RegradeIn, d: DepsDep, principal: CurrentPrincipal):
    return action_summary(await case_admin.regrade(d.uow(), principal, case_admin.Regrade(ref, body.grade, body.reason)))


@router.post("/{ref}/transfer", operation_id="transfer_case", response_model=CaseSummary,
             dependencies=[require_roles(DISPATCHER)], summary="Move a case to another grid of the street, with a reason")
async def transfer(ref: str, body: TransferIn, d: DepsDep, principal: CurrentPrincipal):
    cmd = case_admin.Transfer(ref, body.grid, body.reason)
    return action_summary(await case_admin.transfer(d.uow(), principal, cmd, ctx=d.ctx))


@router.post("/{ref}/merge", operation_id="merge_case", response_model=MergeResult,
             dependencies=[require_roles(DISPATCHER)],
             summary="Merge a duplicate into another open case (its requesters move along)")
async def merge(ref: str, body: MergeIn, d: DepsDep, principal: CurrentPrincipal):
    merged = await case_admin.merge(d.uow(), principal, case_admin.Merge(ref, body.into, body.reason))
    return {"case": action_summary(merged.case), "into": action_summary(merged.into)}


@router.post("/{ref}/rating", operation_id="rate_case", response_model=CaseSummary,
             dependencies=[require_roles(EXTERNAL_SYSTEM, DISPATCHER)],
             summary="Satisfaction follow-up (回访); 'unsatisfied' reopens the case")
async def rate(ref: str, body: RatingIn, d: DepsDep, principal: CurrentPrincipal):
    return action_summary(await case_admin.rate(d.uow(), principal, case_admin.Rate(ref, body.rating, body.comment)))
