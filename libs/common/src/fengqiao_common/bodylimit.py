"""(Shared by every HTTP service.) Refuse oversized request bodies before they are read whole (Content-Length, then counted), and
requests whose path or query carries NUL characters (PostgreSQL text cannot store them)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _body_413(limit: int) -> bytes:
    return json.dumps({
        "error": "http_413", "message": f"请求体过大（上限 {limit} 字节） / request body too large (limit {limit} bytes)",
        "message_zh": f"请求体过大（上限 {limit} 字节）", "message_en": f"request body too large (limit {limit} bytes)",
        "fields": [],
    }, ensure_ascii=False).encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_limit: int, limits: dict[str, int] | None = None):
        self.app = app
        self.default_limit = default_limit
        self.limits = limits or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]
                                        or b"%00" in scope.get("raw_path", b"")):
            body = json.dumps({"error": "bad_request", "message": "请求包含空字符 / the request contains NUL characters",
                               "message_zh": "请求包含空字符", "message_en": "the request contains NUL characters",
                               "fields": []}, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    too_big = int(v) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await send({"type": "http.response.start", "status": 413,
                                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
                    await send({"type": "http.response.body", "body": _body_413(limit)})
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body too large (limit {limit} bytes)")
            return msg

        await self.app(scope, limited, send)
