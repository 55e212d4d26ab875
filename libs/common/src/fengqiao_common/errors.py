"""Error bodies: field-level validation messages in Chinese and English, and domain errors.

Every error response has the shape::

    {"error": "<code>", "message": "<zh> / <en>", "message_zh": ..., "message_en": ...,
     "fields": [{"field": "grid", "loc": ["body", "grid"], "code": "...", "message_zh": ..., "message_en": ...}]}
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("fengqiao.errors")

_ZH = {
    "missing": "必填项缺失",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "too_long": "条目过多",
    "too_short": "条目过少",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为布尔值",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "datetime_parsing": "日期时间格式不正确",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "date_parsing": "日期格式不正确",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "json_invalid": "JSON 格式不正确",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "uuid_parsing": "编号格式不正确",
    "value_error": "取值无效",
    "extra_forbidden": "不允许的字段",
    "url_parsing": "网址格式不正确",
    "url_scheme": "网址协议不允许",
}


def field_error(field: str, code: str, zh: str, en: str, loc: list | None = None) -> dict:
    return {"field": field, "loc": loc or [field], "code": code, "message_zh": zh, "message_en": en}


class ApiError(Exception):
    """A domain or request error with a status code and bilingual message."""

    def __init__(
        self,
        status: int,
        code: str,
        zh: str,
        en: str,
        *,
        fields: list[dict] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en
        self.fields = fields or []
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict:
        return {
            "error": self.code,
            "message": f"{self.zh} / {self.en}",
            "message_zh": self.zh,
            "message_en": self.en,
            "fields": self.fields,
            **self.extra,
        }


def not_found(what: str = "resource", zh: str = "资源") -> ApiError:
    return ApiError(404, "not_found", f"{zh}不存在", f"{what} not found")


def conflict(code: str, zh: str, en: str, **extra) -> ApiError:
    return ApiError(409, code, zh, en, extra=extra)


def forbidden(zh: str = "无权执行此操作", en: str = "not allowed") -> ApiError:
    return ApiError(403, "forbidden", zh, en)


def validation_fields(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ())]
        field = ".".join(x for x in loc if x not in ("body", "query", "path", "header", "form")) or ".".join(loc)
        etype = e.get("type", "value_error")
        en = e.get("msg", "invalid value")
        zh = _ZH.get(etype, "取值无效")
        ctx = e.get("ctx") or {}
        if etype == "value_error" and "error" in ctx:
            # our validators raise ValueError("中文 / English")
            msg = str(ctx["error"])
            if " / " in msg:
                zh, en = msg.split(" / ", 1)
            else:
                en = msg
        elif "max_length" in ctx:
            zh = f"{zh}（最多 {ctx['max_length']}）"
        elif "min_length" in ctx:
            zh = f"{zh}（至少 {ctx['min_length']}）"
        elif "expected" in ctx:
            zh = f"{zh}（允许：{ctx['expected']}）"
        out.append({"field": field, "loc": loc, "code": etype, "message_zh": zh, "message_en": en})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        body = ApiError(
            422, "validation_failed", "请求参数有误", "request validation failed",
            fields=validation_fields(jsonable_encoder(exc.errors(), custom_encoder={Exception: str})),
        ).body()
        return JSONResponse(body, status_code=422)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        err = to_api_error(exc)
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        zh = {401: "未认证", 403: "无权访问", 404: "资源不存在", 405: "不支持的请求方法", 413: "请求体过大",
              429: "请求过于频繁"}.get(exc.status_code, "请求错误")
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return JSONResponse(
            {"error": f"http_{exc.status_code}", "message": f"{zh} / {detail}", "message_zh": zh,
             "message_en": detail, "fields": []},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        from fengqiao_events.consumer import is_connection_error

        if is_connection_error(exc):  # the database (or another dependency) is away: nothing was written
            log.warning("dependency unavailable", error=repr(exc), path=request.url.path)
            return JSONResponse(
                {"error": "unavailable", "message": "服务暂时不可用，请稍后重试 / service temporarily unavailable, retry later",
                 "message_zh": "服务暂时不可用，请稍后重试", "message_en": "service temporarily unavailable, retry later",
                 "fields": []},
                status_code=503, headers={"Retry-After": "5"},
            )
        log.exception("unhandled error", error=repr(exc), path=request.url.path)
        return JSONResponse(
            {"error": "internal_error", "message": "服务器内部错误 / internal server error",
             "message_zh": "服务器内部错误", "message_en": "internal server error", "fields": []},
            status_code=500,
        )


# --- Domain errors: what use cases raise (no HTTP status codes); one handler maps them. ---------

class DomainError(Exception):
    """A rule of the domain refused the command. ``kind`` decides the transport status."""

    kind = "invalid"
    default_code = "invalid"

    def __init__(self, zh: str, en: str, *, code: str | None = None, fields: list[dict] | None = None,
                 **extra: Any):
        super().__init__(en)
        self.code = code or self.default_code
        self.zh, self.en = zh, en
        self.fields = fields or []
        self.extra = extra


class NotFound(DomainError):
    kind = "not_found"
    default_code = "not_found"

    def __init__(self, what: str = "resource", zh: str = "资源", **kw: Any):
        super().__init__(f"{zh}不存在", f"{what} not found", **kw)


class Conflict(DomainError):
    """The object's current state does not allow the command (409 with the current state)."""

    kind = "conflict"
    default_code = "conflict"


class Forbidden(DomainError):
    kind = "forbidden"
    default_code = "forbidden"

    def __init__(self, zh: str = "无权执行此操作", en: str = "not allowed", **kw: Any):
        super().__init__(zh, en, **kw)


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    default_code = "unauthenticated"


class Invalid(DomainError):
    """The command is well-formed but its values break a rule (422 with field messages)."""

    kind = "invalid"
    default_code = "validation_failed"


class Unavailable(DomainError):
    """A dependency (another system) is away; retry later."""

    kind = "unavailable"
    default_code = "unavailable"


class TooLarge(DomainError):
    kind = "too_large"
    default_code = "too_large"


class Unsupported(DomainError):
    kind = "unsupported"
    default_code = "unsupported_media_type"


def invalid(field: str, zh: str, en: str, code: str = "invalid", *, loc: list | None = None) -> Invalid:
    """One field's rule broken: the 422 ``validation_failed`` body with that field's messages."""
    return Invalid("请求参数有误", "request validation failed",
                   fields=[field_error(field, code, zh, en, loc=loc or ["body", field])])


STATUS_OF_KIND = {"not_found": 404, "conflict": 409, "forbidden": 403, "unauthenticated": 401, "invalid": 422,
                  "unavailable": 503, "too_large": 413, "unsupported": 415}


def to_api_error(exc: DomainError) -> ApiError:
    headers = {"Retry-After": "5"} if exc.kind == "unavailable" else None
    return ApiError(STATUS_OF_KIND.get(exc.kind, 400), exc.code, exc.zh, exc.en, fields=exc.fields,
                    extra=exc.extra, headers=headers)
