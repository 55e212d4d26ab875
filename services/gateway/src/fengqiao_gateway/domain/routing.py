"""The routing table: public path prefix -> owning service (the path is forwarded unchanged)."""

from __future__ import annotations

ROUTES: dict[str, tuple[str, ...]] = {
    "intake": (
        "/open311/v2", "/api/v1/cases", "/api/v1/catalogue", "/api/v1/webhooks", "/api/v1/attachments",
        "/api/v1/weak-signal-reports", "/api/v1/follow-ups", "/api/v1/duplicates",
        # the residents' public case page (anonymous: case number + query code) and its API
        "/api/v1/public", "/c",
    ),
    "dispatch": ("/api/v1/orders", "/api/v1/dispatch"),
    "mediation": ("/api/v1/mediation",),
    "analytics": ("/api/v1/analytics", "/screen"),
}

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def all_prefixes() -> list[tuple[str, str]]:
    """(prefix, service), longest prefix first."""
    pairs = [(p, s) for s, ps in ROUTES.items() for p in ps]
    return sorted(pairs, key=lambda x: -len(x[0]))


def match(path: str) -> str | None:
    """The service owning ``path``; prefixes match whole segments only (``/api/v1/casesX`` matches nothing)."""
    for prefix, service in all_prefixes():
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def is_open311(path: str) -> bool:
    return path == "/open311/v2" or path.startswith("/open311/v2/")


def is_stream(path: str, accept: str | None, stream_paths: list[str]) -> bool:
    """Event streams (SSE): by path, or by what the caller accepts."""
    return path in stream_paths or "text/event-stream" in (accept or "")
