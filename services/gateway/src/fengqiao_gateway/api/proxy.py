"""Forwarding to the services: authenticate the caller, rate-limit, mint the internal identity, forward
the path unchanged, stream the answer back, audit writes."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from fengqiao_common.auth import IDENTITY_HEADER, Principal, mint_identity
from fengqiao_common.errors import ApiError, DomainError, to_api_error
from fengqiao_common.logging import request_id_var
from starlette.background import BackgroundTask

from ..adapters.upstream import UpstreamUnavailable
from ..deps import Deps
from ..domain import audit, paging, routing
from ..domain.audit import Caller
from ..metrics import REJECTED, UPSTREAM_LATENCY
from ..usecases import audit as audit_uc
from ..usecases import auth as auth_uc
from .access import bearer, client_ip, too_many

router = APIRouter(include_in_schema=False)

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
DROP_REQUEST = HOP_BY_HOP | {"authorization", "x-api-key", IDENTITY_HEADER.lower(), "x-request-id", "cookie",
                             "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "x-request-id", "server", "date"})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _open311_key(request: Request, body: bytes) -> str | None:
    """GeoReport v2 passes the key as a parameter: in the query, or a field of the (urlencoded or multipart)
    form. The body is only read here; it is forwarded unchanged."""
    key = request.query_params.get("api_key")
    if key:
        return key
    ctype = request.headers.get("content-type", "")
    if request.method != "POST" or not body:
        return None
    if ctype.startswith("application/x-www-form-urlencoded"):
        for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            if k == "api_key":
                return v
    elif ctype.startswith("multipart/form-data"):
        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form()
        except Exception:
            return None
        try:
            value = form.get("api_key")
            return value if isinstance(value, str) else None
        finally:
            await form.close()
    return None


async def _authenticate(request: Request, deps: Deps, body: bytes) -> tuple[Principal | None, str, int]:
    """(principal or None for anonymous, rate-limit bucket, limit per minute)."""
    rid = request_id_var.get()
    s = deps.settings
    token = bearer(request)
    if token is not None:
        account, _sid = await auth_uc.authenticate_access(deps.uow(), token, cache=deps.cache, secret=s.token_secret)
        return account.principal(rid), f"user:{account.id}", s.rate_limit_user_per_minute
    key = request.headers.get("x-api-key")
    if not key and routing.is_open311(request.url.path):
        key = await _open311_key(request, body)
    if key:
        scope, own_limit = await auth_uc.authenticate_key(deps.uow(), key, cache=deps.cache)
        return scope.principal(rid), f"key:{scope.id}", own_limit or s.rate_limit_key_per_minute
    ip = client_ip(request, s) or "unknown"
    return None, f"ip:{ip}", s.rate_limit_anonymous_per_minute


def _strip_api_key(query: str) -> str:
    if "api_key" not in query:
        return query
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "api_key"])


def _open311_error(path: str, exc: ApiError) -> Response:
    """GeoReport v2 clients expect errors as a list of {code, description} (JSON or XML, by the suffix)."""
    description = f"{exc.en} / {exc.zh}"
    headers = exc.headers or {}
    if path.endswith(".xml"):
        body = (f'<?xml version="1.0" encoding="utf-8"?><errors><error><code>{exc.status}</code>'
                f"<description>{xml_escape(description)}</description></error></errors>")
        return Response(body, status_code=exc.status, media_type="text/xml; charset=utf-8", headers=headers)
    return Response(json.dumps([{"code": exc.status, "description": description}], ensure_ascii=False),
                    status_code=exc.status, media_type="application/json", headers=headers)


async def forward(request: Request) -> Response:
    try:
        return await _forward(request)
    except DomainError as exc:
        err = to_api_error(exc)
        if exc.kind == "unauthenticated":
            err.headers = {**(err.headers or {}), "WWW-Authenticate": "Bearer"}
        if routing.is_open311(request.url.path):
            return _open311_error(request.url.path, err)
        raise err from exc
    except ApiError as exc:
        if routing.is_open311(request.url.path):
            return _open311_error(request.url.path, exc)
        raise


async def _forward(request: Request) -> Response:
    deps: Deps = request.app.state.runtime.deps
    path = request.url.path
    service = routing.match(path)
    if service is None:  # pragma: no cover - routes are registered per prefix
        raise ApiError(404, "not_found", "资源不存在", "not found")
    body = await request.body()
    try:
        principal, bucket, limit = await _authenticate(request, deps, body)
    except (ApiError, DomainError):
        REJECTED.labels("unauthenticated").inc()
        raise
    decision = await deps.limiter.hit(bucket, limit)
    if not decision.allowed:
        REJECTED.labels("rate_limited").inc()
        raise too_many(decision)

    rid = request_id_var.get()
    ip = client_ip(request, deps.settings)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP_REQUEST]
    headers += [("x-request-id", rid or ""), ("x-forwarded-for", ip or ""),
                ("x-forwarded-proto", request.url.scheme), ("x-forwarded-host", request.headers.get("host", ""))]
    if principal is not None:
        headers.append((IDENTITY_HEADER, mint_identity(principal, deps.settings.internal_token_secret)))
    query = paging.cap_query(_strip_api_key(request.url.query), deps.settings.page_size_cap)

    method = request.method
    started = time.perf_counter()
    try:
        # forward the path exactly as received (still percent-encoded): decoding it would let %2F or %3F
        # change the upstream path or query, and control characters would not form a valid URL
        raw_path = (request.scope.get("raw_path") or path.encode()).decode("latin-1")
        upstream = await deps.upstreams.send(service, method, raw_path, query, headers, body,
                                           idempotent=method in routing.IDEMPOTENT_METHODS)
        UPSTREAM_LATENCY.labels(service, method, str(upstream.status_code)).observe(time.perf_counter() - started)
    except UpstreamUnavailable as exc:
        REJECTED.labels("upstream_timeout" if exc.timeout else "upstream_unavailable").inc()
        if exc.timeout:
            raise ApiError(504, "upstream_timeout", "后端服务响应超时", f"{exc.service} timed out") from exc
        raise ApiError(503, "upstream_unavailable", "后端服务暂不可用", f"{exc.service} unavailable",
                       headers={"Retry-After": "2"}) from exc

    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE}
    out_headers["x-ratelimit-limit"] = str(decision.limit)
    out_headers["x-ratelimit-remaining"] = str(decision.remaining)

    if method in audit.MUTATING:
        content = created = None
        ctype = upstream.headers.get("content-type", "")
        if (upstream.status_code == 201 and audit.describe(method, path).object_id is None
                and ctype.startswith("application/json")):
            try:
                content = await upstream.aread()
            finally:
                await upstream.aclose()
            try:
                created = audit.created_id(json.loads(content))
            except ValueError:
                created = None
        caller = Caller(ip=ip, user_agent=request.headers.get("user-agent"), request_id=rid)
        audit_uc.record_forwarded(deps.audit, deps.clock, principal, caller, method=method, path=path,
                                  service=service, status=upstream.status_code, created_id=created)
        if content is not None:
            out_headers.pop("content-encoding", None)
            out_headers["content-length"] = str(len(content))
            return Response(content, status_code=upstream.status_code, headers=out_headers)

    return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, headers=out_headers,
                             background=BackgroundTask(upstream.aclose))


for _prefix, _service in routing.all_prefixes():
    router.add_api_route(_prefix, forward, methods=METHODS, include_in_schema=False)
    router.add_api_route(_prefix + "/{rest:path}", forward, methods=METHODS, include_in_schema=False)
