"""/api/v1/public/cases (anonymous: case number + query code) and the page at /c/ (forwarded by the gateway)."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fengqiao_common.errors import ApiError, NotFound

from ..usecases import public as uc
from ..usecases.followups import Answer
from . import DepsDep
from .public_schemas import PublicCase, PublicCodeIn, PublicRatingIn

router = APIRouter(tags=["public"])
Code = Annotated[str, Query(min_length=4, max_length=16, description="the query code sent at acceptance")]


def _client(request: Request) -> str:
    fwd = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    return fwd or (request.client.host if request.client else "unknown")


async def _guarded(d, request: Request, case_no: str, call):
    keys = (f"case:{case_no}", f"ip:{_client(request)}")
    wait = d.lookups.retry_after(*keys)
    if wait is not None:
        raise ApiError(429, "rate_limited", "查询过于频繁，请稍后再试", "too many wrong codes, try again later",
                       headers={"Retry-After": str(wait)})
    try:
        return await call()
    except NotFound:
        d.lookups.failed(*keys)
        raise


@router.get("/api/v1/public/cases/{case_no}", operation_id="public_case", response_model=PublicCase,
            summary="A resident looks up their case by number and query code (no personal data)")
async def public_case(case_no: str, code: Code, request: Request, d: DepsDep):
    return await _guarded(d, request, case_no, lambda: uc.public_case(d.uow(), case_no, code))


@router.post("/api/v1/public/cases/{case_no}/rating", operation_id="public_rate_case", response_model=PublicCase,
             summary="The resident's follow-up answer: satisfaction and whether the problem was solved")
async def public_rate(case_no: str, body: PublicRatingIn, request: Request, d: DepsDep):
    answer = Answer(rating=body.rating, solved=body.solved, channel="public_page", comment=body.comment)
    return await _guarded(d, request, case_no,
                          lambda: uc.public_rate(d.uow(), case_no, body.code, answer, policy=d.follow_up))


@router.post("/api/v1/public/cases/{case_no}/sms-opt-out", operation_id="public_sms_opt_out", status_code=204,
             summary="The resident asks for no more text messages")
async def public_opt_out(case_no: str, body: PublicCodeIn, request: Request, d: DepsDep) -> None:
    await _guarded(d, request, case_no,
                   lambda: uc.public_opt_out(d.uow(), case_no, body.code, key=d.settings.requester_key_bytes))


_PAGE = {200: {"content": {"text/html": {}}, "description": "the public case page (zh-CN, mobile)"}}


@router.get("/c", response_class=HTMLResponse, operation_id="public_case_page", responses=_PAGE,
            include_in_schema=True)
@router.get("/c/", response_class=HTMLResponse, operation_id="public_case_page_slash", responses=_PAGE)
async def page() -> HTMLResponse:
    html = files("fengqiao_intake").joinpath("static/case.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
