"""Pure-ASGI middleware: security headers (the body limit is fengqiao_common.bodylimit)."""

from __future__ import annotations

CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; connect-src 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """Security headers on every response; a Content-Security-Policy on the gateway's own pages and
    on JSON answers (a service's own HTML, such as the big screen, keeps the policy it sets)."""

    def __init__(self, app, hsts: bool = True):
        self.app, self.hsts = app, hsts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                add = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"geolocation=(self), camera=(self), microphone=()"),
                ]
                if self.hsts:
                    add.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                if path.startswith("/console"):
                    add.append((b"content-security-policy", CONSOLE_CSP.encode()))
                    add.append((b"cache-control", b"no-cache"))
                elif path.startswith("/docs"):
                    add.append((b"content-security-policy", DOCS_CSP.encode()))
                elif ctype.startswith(b"application/json"):
                    add.append((b"content-security-policy", API_CSP.encode()))
                headers += [(k, v) for k, v in add if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
