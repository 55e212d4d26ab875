"""/api/v1/catalogue: the jurisdiction (communities, grids, domains, grades with colours, departments)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fengqiao_common.errors import not_found
from fengqiao_common.jurisdiction import Community, Department, Domain, Grade, Grid

from . import DepsDep
from .schemas import CatalogueOut

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


@router.get("", operation_id="get_catalogue", response_model=CatalogueOut, summary="The whole catalogue")
async def catalogue(d: DepsDep):
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


@router.get("/communities", operation_id="list_communities", response_model=list[Community])
async def communities(d: DepsDep):
    return [c.model_dump() for c in d.jurisdiction.communities]


@router.get("/grids", operation_id="list_grids", response_model=list[Grid])
async def grids(d: DepsDep, community: str | None = Query(None, max_length=20)):
    return [g.model_dump() for g in d.jurisdiction.grids if community is None or g.community == community]


@router.get("/grids/{code}", operation_id="get_grid", response_model=Grid)
async def grid(code: str, d: DepsDep):
    g = d.jurisdiction.grid(code)
    if g is None:
        raise not_found("grid", "网格")
    return g.model_dump()


@router.get("/domains", operation_id="list_domains", response_model=list[Domain],
            summary="The '8+N' domains (case categories)")
async def domains(d: DepsDep):
    return [x.model_dump() for x in d.jurisdiction.domains]


@router.get("/grades", operation_id="list_grades", response_model=list[Grade],
            summary="Grades with colours and time limits")
async def grades(d: DepsDep):
    return [g.model_dump() for g in d.jurisdiction.grades]


@router.get("/departments", operation_id="list_departments", response_model=list[Department])
async def departments(d: DepsDep):
    return [x.model_dump() for x in d.jurisdiction.departments]
