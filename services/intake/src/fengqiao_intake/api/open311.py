"""Open311 GeoReport v2 (+ FixMyStreet's servicerequestupdates), JSON and XML, as the spec has it.

GET endpoints are anonymous: the public, coarsened view (``INTAKE_OPEN311_PUBLIC_FEED=true``, the
default) or refused without an API key (``false``); a caller with an identity sees its own requests
in full (``usecases/open311.py``). POST requests comes from an external system whose ``api_key`` the
gateway has verified (it forwards the identity); the ``api_key`` form field is still accepted so
clients work unchanged. Errors use the spec's bodies: ``[{"code", "description"}]`` /
``<errors><error><code/><description/></error></errors>``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fengqiao_common.auth import EXTERNAL_SYSTEM, Principal, optional_principal
from fengqiao_common.errors import ApiError, DomainError, to_api_error
from pydantic import ValidationError

from ..domain import open311 as o
from ..schemas import CaseIn, LocationIn
from ..usecases import cases as new_cases
from ..usecases import open311 as uc
from . import DepsDep

router = APIRouter(prefix="/open311/v2", tags=["open311"])

_ATTR = re.compile(r"^attribute\[([A-Za-z0-9_]+)\](\[\])?$")
_FORMATS = ("json", "xml")


_DOC = {"description": "GeoReport v2 body, JSON or XML by the path's format",
        "content": {"application/json": {"schema": {}}, "text/xml": {"schema": {"type": "string"}}}}
_ERR = {"description": "GeoReport v2 errors: [{code, description}] (JSON) or <errors> (XML)",
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "text/xml": {"schema": {"type": "string"}}}}
RESPONSES = {200: _DOC, 400: _ERR, 403: _ERR, 404: _ERR}


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        self.code, self.description = code, description


def _render(fmt: str, root: str, item: str, items: list[dict], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(o.to_xml(root, item, items), status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(items, status_code=status)


def _error(fmt: str, code: int, description: str) -> Response:
    items = [{"code": code, "description": description}]
    if fmt == "xml":
        return Response(o.errors_xml(items), status_code=code, media_type="text/xml; charset=utf-8")
    return JSONResponse(items, status_code=code)


def _fmt(fmt: str) -> str:
    if fmt not in _FORMATS:
        raise Open311Error(404, f"format not supported: {fmt} (use json or xml) / 不支持的格式")
    return fmt


def _dates(params, default_days: int, now: datetime) -> tuple[datetime, datetime]:
    try:
        start = o.parse_w3c(params["start_date"]) if params.get("start_date") else None
        end = o.parse_w3c(params["end_date"]) if params.get("end_date") else None
    except ValueError as exc:
        raise Open311Error(400, "start_date/end_date must be W3C datetimes / 日期格式不正确") from exc
    span = timedelta(days=default_days)
    if start is None and end is None:
        end = now
        start = end - span
    elif start is None:
        start = end - span
    elif end is None:
        end = start + span
    if end < start:
        raise Open311Error(400, "end_date is before start_date / 结束时间早于开始时间")
    if end - start > span:
        raise Open311Error(400, f"the date range may not span more than {default_days} days / 时间跨度过长")
    return start, end


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/services.{fmt}", operation_id="open311_services", response_class=Response,
             responses=RESPONSES, summary="GeoReport v2: service list")
async def services(fmt: str, d: DepsDep):
    try:
        _fmt(fmt)
        return _render(fmt, "services", "service", [o.service_entry(x) for x in d.jurisdiction.domains])
    except Open311Error as e:
        return _error(fmt if fmt in _FORMATS else "json", e.code, e.description)


@router.get("/services/{service_code}.{fmt}", operation_id="open311_service_definition", response_class=Response,
             responses=RESPONSES,
            summary="GeoReport v2: service definition")
async def service_definition(service_code: str, fmt: str, d: DepsDep):
    try:
        _fmt(fmt)
        if d.jurisdiction.domain(service_code) is None:
            raise Open311Error(404, f"service_code not found: {service_code} / 服务类别不存在")
        defn = o.service_definition(service_code, d.jurisdiction.grids)
        if fmt == "xml":
            return Response(o.service_definition_xml(defn), media_type="text/xml; charset=utf-8")
        return JSONResponse(defn)
    except Open311Error as e:
        return _error(fmt if fmt in _FORMATS else "json", e.code, e.description)


@router.post("/requests.{fmt}", operation_id="open311_post_request", response_class=Response,
             responses=RESPONSES, summary="GeoReport v2: submit a request")
async def post_request(fmt: str, request: Request, d: DepsDep):
    out_fmt = fmt if fmt in _FORMATS else "json"
    try:
        _fmt(fmt)
        try:
            principal = await optional_principal(request)
        except ApiError:
            principal = None
        if principal is None or not principal.has(EXTERNAL_SYSTEM):
            raise Open311Error(403, "api_key is missing or invalid / 接口密钥无效")
        form = await request.form()
        if any(isinstance(v, str) and "\x00" in v for _k, v in form.multi_items()):
            raise Open311Error(400, "NUL characters are not allowed / 不允许包含空字符")
        case_in, media_url = _parse_post(form, d)
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 200:
            raise Open311Error(400, "Idempotency-Key is too long / 幂等键过长")
        result = await new_cases.create_case(d.case_uow(), principal, new_cases.NewCase(
            case_in, "open311", idempotency_key=key, snap_grid=True, extra_parties=_requester(form),
            media_url=media_url), ctx=d.ctx)
        row = result.item
        notice = "已受理，案件编号 {0} / accepted as case {0}".format(row["case_no"])
        return _render(fmt, "service_requests", "request",
                       [{"service_request_id": row["case_no"], "service_notice": notice, "account_id": None}])
    except Open311Error as e:
        return _error(out_fmt, e.code, e.description)
    except (ApiError, DomainError) as e:
        err = to_api_error(e) if isinstance(e, DomainError) else e
        detail = "; ".join(f"{f['field']}: {f['message_en']} / {f['message_zh']}" for f in err.fields) or err.en
        return _error(out_fmt, 400 if err.status == 422 else err.status, detail)


async def _reader(request: Request, d) -> Principal | None:
    """The caller of a GET (None: anonymous). With the public feed off, anonymous callers are refused."""
    try:
        principal = await optional_principal(request)
    except ApiError as exc:
        raise Open311Error(403, "api_key is invalid / 接口密钥无效") from exc
    if principal is None and not d.settings.open311_public_feed:
        raise Open311Error(403, "an api_key is required to read requests / 查询须提供接口密钥")
    return principal


def _view(r: uc.Open311Request, d) -> dict:
    if r.full:
        return o.request_view(r.case, r.context, d.jurisdiction)
    return o.public_request_view(r.case, r.context, d.jurisdiction)


def _requester(form) -> list[dict]:
    name = " ".join(x for x in (form.get("last_name"), form.get("first_name")) if x).strip()
    phone, email = (form.get("phone") or "").strip(), (form.get("email") or "").strip()
    if not (name or phone or email):
        return []
    if len(name) > 100 or len(phone) > 30 or len(email) > 200:
        raise Open311Error(400, "first_name/last_name/phone/email too long / 联系信息过长")
    return [{"name": name or None, "phone": phone or None, "id_card": None, "email": email or None,
             "role": "requester"}]


def _parse_post(form, d) -> tuple[CaseIn, str | None]:
    code = form.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required / 缺少 service_code")
    if d.jurisdiction.domain(code) is None:
        raise Open311Error(404, f"service_code not found: {code} / 服务类别不存在")
    lat, lon, addr = form.get("lat"), form.get("long"), form.get("address_string") or form.get("address_id")
    if not ((lat and lon) or addr):
        raise Open311Error(400, "a location is required: lat & long, address_string or address_id / 须提供位置")
    description = (form.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "description is required / 缺少描述")
    attrs: dict[str, str] = {}
    for k, v in form.multi_items():
        m = _ATTR.match(k)
        if m:
            attrs[m.group(1)] = str(v)
        elif k.startswith("attribute"):
            raise Open311Error(400, f"malformed attribute field {k} / 属性格式不正确")
    unknown = set(attrs) - {"people_involved", "grid", "occurred_at"}
    if unknown:
        raise Open311Error(400, f"unknown attribute(s): {', '.join(sorted(unknown))} / 未知属性")
    media_url = form.get("media_url") or None
    if media_url and (len(media_url) > 2000 or not media_url.startswith(("http://", "https://"))):
        raise Open311Error(400, "media_url must be an http(s) URL / media_url 格式不正确")
    try:
        people = int(attrs.get("people_involved", "0") or 0)
        occurred = o.parse_w3c(attrs["occurred_at"]) if attrs.get("occurred_at") else None
        loc = LocationIn(lat=float(lat) if lat else None, lon=float(lon) if lon else None, address=addr or None)
        body = CaseIn(category=code, description=description, people_involved=people, occurred_at=occurred,
                      grid=attrs.get("grid") or None, location=loc)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            msg = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        else:
            msg = str(exc)
        raise Open311Error(400, f"invalid field: {msg}") from exc
    return body, media_url


@router.get("/requests.{fmt}", operation_id="open311_get_requests", response_class=Response,
             responses=RESPONSES, summary="GeoReport v2: query requests")
async def get_requests(fmt: str, request: Request, d: DepsDep):
    out_fmt = fmt if fmt in _FORMATS else "json"
    try:
        _fmt(fmt)
        p = request.query_params
        ids = _csv(p.get("service_request_id"))
        statuses = _csv(p.get("status"))
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, "status must be open or closed / 状态只能是 open 或 closed")
        limit = d.settings.open311_max_requests
        if ids:
            q = uc.RequestQuery(ids=ids, limit=limit)
        else:
            start, end = _dates(p, d.settings.open311_default_days, d.clock.now())
            q = uc.RequestQuery(codes=_csv(p.get("service_code")), start=start, end=end, statuses=statuses,
                                limit=limit)
        principal = await _reader(request, d)
        found = await uc.find_requests(d.uow(), q, principal=principal, public_feed=d.settings.open311_public_feed)
        return _render(fmt, "service_requests", "request", [_view(r, d) for r in found])
    except Open311Error as e:
        return _error(out_fmt, e.code, e.description)


@router.get("/requests/{service_request_id}.{fmt}", operation_id="open311_get_request", response_class=Response,
             responses=RESPONSES,
            summary="GeoReport v2: one request")
async def get_request(service_request_id: str, fmt: str, request: Request, d: DepsDep):
    out_fmt = fmt if fmt in _FORMATS else "json"
    try:
        _fmt(fmt)
        principal = await _reader(request, d)
        found = await uc.find_requests(d.uow(), uc.RequestQuery(ids=[service_request_id], limit=1),
                                       principal=principal, public_feed=d.settings.open311_public_feed)
        if not found:
            raise Open311Error(404, f"service_request_id not found: {service_request_id} / 请求不存在")
        return _render(fmt, "service_requests", "request", [_view(found[0], d)])
    except Open311Error as e:
        return _error(out_fmt, e.code, e.description)


@router.get("/servicerequestupdates.{fmt}", operation_id="open311_get_updates", response_class=Response,
             responses=RESPONSES,
            summary="FixMyStreet extension: status updates of requests")
async def get_updates(fmt: str, request: Request, d: DepsDep):
    out_fmt = fmt if fmt in _FORMATS else "json"
    try:
        _fmt(fmt)
        principal = await _reader(request, d)
        start, end = _dates(request.query_params, d.settings.open311_default_days, d.clock.now())
        rows = await uc.status_updates(d.uow(), start, end, limit=d.settings.open311_max_requests,
                                       principal=principal, public_feed=d.settings.open311_public_feed)
        items = [{
            "update_id": str(r["id"]), "service_request_id": r["case_no"],
            "status": o.FMS_STATUS.get(r["status_effect"], "open"), "updated_datetime": o.w3c(r["at"]),
            "description": r["note"] if r["full"] else o.status_label(r["kind"]), "media_url": None,
        } for r in rows]
        return _render(fmt, "service_request_updates", "request_update", items)
    except Open311Error as e:
        return _error(out_fmt, e.code, e.description)
