"""/api/v1/catalogue: the jurisdiction (communities, grids, domains, grades with colours, departments)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fengqiao_common.errors import not_found

from . import AppDeps

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


@router.get("", operation_id="get_catalogue", summary="The whole catalogue")
async def catalogue(d: AppDeps):
    j = d.jurisdiction
    return {
        "province": j.province.model_dump(), "city": j.city.model_dump(), "district": j.district.model_dump(),
        "street": j.street.model_dump(),
        "communities": [c.model_dump() for c in j.communities],
        "grids": [g.model_dump() for g in j.grids],
        "domains": [x.model_dump() for x in j.domains],
        "grades": [g.model_dump() for g in j.grades],
        "departments": [x.model_dump() for x in j.departments],
        "external_systems": [x.model_dump() for x in j.external_systems],
    }


@router.get("/communities", operation_id="list_communities")
async def communities(d: AppDeps):
    return [c.model_dump() for c in d.jurisdiction.communities]


@router.get("/grids", operation_id="list_grids")
async def grids(d: AppDeps, community: str | None = Query(None, max_length=20)):
    return [g.model_dump() for g in d.jurisdiction.grids if community is None or g.community == community]


@router.get("/grids/{code}", operation_id="get_grid")
async def grid(code: str, d: AppDeps):
    g = d.jurisdiction.grid(code)
    if g is None:
        raise not_found("grid", "网格")
    return g.model_dump()


@router.get("/domains", operation_id="list_domains", summary="The '8+N' domains (case categories)")
async def domains(d: AppDeps):
    return [x.model_dump() for x in d.jurisdiction.domains]


@router.get("/grades", operation_id="list_grades", summary="Grades with colours and time limits")
async def grades(d: AppDeps):
    return [g.model_dump() for g in d.jurisdiction.grades]


@router.get("/departments", operation_id="list_departments")
async def departments(d: AppDeps):
    return [x.model_dump() for x in d.jurisdiction.departments]
