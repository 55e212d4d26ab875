"""Forwarding to the services: authenticate the caller and rate-limit (from the headers, before any body is
read), mint the internal identity, forward the path unchanged, stream the body on and the answer back, audit
writes. Event streams go through their own pool (api/streams.py)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fengqiao_common.auth import IDENTITY_HEADER, Principal
from fengqiao_common.errors import ApiError, DomainError, Unauthenticated, to_api_error
from fengqiao_common.logging import request_id_var

from ..adapters.upstream import UpstreamUnavailable
from ..deps import Deps
from ..domain import audit, paging, routing
from ..domain.audit import Caller
from ..metrics import REJECTED, UPSTREAM_LATENCY
from ..usecases import audit as audit_uc
from ..usecases import auth as auth_uc
from . import streams
from .access import bearer, client_ip, count_failure, refuse_failing_address, too_many
from .forwarding import DROP_REQUEST, ProxiedResponse, response_headers, upstream_error

router = APIRouter(include_in_schema=False)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _open311_form(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    return request.method == "POST" and (ctype.startswith("application/x-www-form-urlencoded")
                                         or ctype.startswith("multipart/form-data"))


async def _open311_form_key(request: Request, body: bytes) -> str | None:
    """GeoReport v2 may pass the key as a field of the (urlencoded or multipart) form. The body is only
    read here; it is forwarded unchanged."""
    if not body:
        return None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            if k == "api_key":
                return v
        return None

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


async def _authenticate(request: Request, deps: Deps, ip: str | None) -> tuple[Principal | None, str, int,
                                                                               bytes | None]:
    """(principal or None for anonymous, rate-limit bucket, limit per minute, the body if it had to be read).
    Credentials come from the headers (or Open311's query); only an Open311 form that may carry the key is
    read first, within the default body limit, and only from an address not refused for failures."""
    s = deps.settings
    path = request.url.path
    token = bearer(request)
    key = None if token else request.headers.get("x-api-key")
    if token is None and not key and routing.is_open311(path):
        key = request.query_params.get("api_key")
    body = None
    if token is None and not key:
        if not (routing.is_open311(path) and _open311_form(request)):
            return None, f"ip:{ip or 'unknown'}", s.rate_limit_anonymous_per_minute, None
        await refuse_failing_address(deps, ip)
        body = await request.body()
        key = await _open311_form_key(request, body)
        if not key:
            return None, f"ip:{ip or 'unknown'}", s.rate_limit_anonymous_per_minute, body
    else:
        await refuse_failing_address(deps, ip)
    try:
        if token is not None:
            account, _sid = await auth_uc.authenticate_access(deps.uow(), token, cache=deps.cache,
                                                             secret=s.token_secret)
            return account.principal(), f"user:{account.id}", s.rate_limit_user_per_minute, body
        assert key is not None
        scope, own_limit = await auth_uc.authenticate_key(deps.uow(), key, cache=deps.cache)
    except Unauthenticated:
        await count_failure(deps, ip)
        raise
    return scope.principal(), f"key:{scope.id}", own_limit or s.rate_limit_key_per_minute, body


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


async def _request_body(request: Request):
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _forward(request: Request) -> Response:
    deps: Deps = request.app.state.runtime.deps
    s = deps.settings
    path = request.url.path
    service = routing.match(path)
    if service is None:  # pragma: no cover - routes are registered per prefix
        raise ApiError(404, "not_found", "资源不存在", "not found")
    ip = client_ip(request, deps)
    try:
        principal, bucket, limit, body = await _authenticate(request, deps, ip)
    except (ApiError, DomainError):
        REJECTED.labels("unauthenticated").inc()
        raise
    decision = await deps.limiter.hit(bucket, limit)
    if not decision.allowed:
        REJECTED.labels("rate_limited").inc()
        raise too_many(decision)

    rid = request_id_var.get()
    method = request.method
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP_REQUEST]
    headers += [("x-request-id", rid or ""), ("x-forwarded-for", ip or ""),
                ("x-forwarded-proto", request.url.scheme), ("x-forwarded-host", request.headers.get("host", ""))]
    if principal is not None:
        headers.append((IDENTITY_HEADER, deps.identity_tokens.get(principal)))  # cached per principal
    query = paging.cap_query(_strip_api_key(request.url.query), s.page_size_cap)
    idempotent = method in routing.IDEMPOTENT_METHODS
    if body is None and idempotent:
        body = await request.body()  # may be sent twice (retries): kept whole; such bodies are small
    content = body
    if content is None:  # streamed on as it arrives (uploads are not held in memory here)
        content = _request_body(request)
        if request.headers.get("content-length"):
            headers.append(("content-length", request.headers["content-length"]))
    # forward the path exactly as received (still percent-encoded): decoding it would let %2F or %3F
    # change the upstream path or query, and control characters would not form a valid URL
    raw_path = (request.scope.get("raw_path") or path.encode()).decode("latin-1")
    if method == "GET" and routing.is_stream(path, request.headers.get("accept"), s.stream_paths):
        return await streams.open_stream(deps, service, raw_path, query, headers, ip or "unknown", decision)

    started = time.perf_counter()
    try:
        upstream = await deps.upstreams.send(service, method, raw_path, query, headers, content,
                                             idempotent=idempotent)
        UPSTREAM_LATENCY.labels(service, method, str(upstream.status_code)).observe(time.perf_counter() - started)
    except UpstreamUnavailable as exc:
        raise upstream_error(exc) from exc

    out_headers = response_headers(upstream, decision)
    fields = upstream.headers.get(audit.FIELDS_HEADER)
    if audit.audited(method, path, keyed_open311=principal is not None and routing.is_open311(path), fields=fields):
        content = created = None
        if method in audit.MUTATING and upstream.status_code == 201 and audit.describe(method, path).object_id is None:
            created = audit.object_id_from_headers(upstream.headers.get(audit.OBJECT_ID_HEADER),
                                                   upstream.headers.get("location"))
            if created is None and upstream.headers.get("content-type", "").startswith("application/json"):
                try:  # the service named no object: the id from the body (read whole)
                    content = await upstream.aread()
                finally:
                    await upstream.aclose()
                try:
                    created = audit.created_id(json.loads(content))
                except ValueError:
                    created = None
        caller = Caller(ip=ip, user_agent=request.headers.get("user-agent"), request_id=rid)
        durable = await audit_uc.record_forwarded(
            deps.audit, deps.clock, principal, caller, method=method, path=path, service=service,
            status=upstream.status_code, created_id=created, fields=fields,
            purpose=upstream.headers.get(audit.PURPOSE_HEADER), subjects=upstream.headers.get(audit.SUBJECTS_HEADER))
        if not durable and method not in audit.MUTATING:  # a write has happened: its row stays buffered
            await upstream.aclose()
            REJECTED.labels("audit_unavailable").inc()
            raise ApiError(503, "audit_unavailable", "审计日志暂不可写，暂不提供个人信息",
                           "the audit log cannot be written now: personal data is not served, retry later",
                           headers={"Retry-After": "2"})
        if content is not None:
            out_headers.pop("content-encoding", None)
            out_headers["content-length"] = str(len(content))
            return Response(content, status_code=upstream.status_code, headers=out_headers)

    return ProxiedResponse(upstream, upstream.status_code, out_headers)


for _prefix, _service in routing.all_prefixes():
    router.add_api_route(_prefix, forward, methods=METHODS, include_in_schema=False)
    router.add_api_route(_prefix + "/{rest:path}", forward, methods=METHODS, include_in_schema=False)
