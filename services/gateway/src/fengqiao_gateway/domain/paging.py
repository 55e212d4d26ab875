"""Page-size caps applied to every forwarded query string. Pure."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

PAGE_PARAMS = ("limit", "page_size", "per_page", "size")


def cap_query(query: str, cap: int) -> str:
    """Clamp page-size parameters to ``cap``; other parameters untouched (order kept)."""
    if not query or not any(p in query for p in PAGE_PARAMS):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    changed = False
    out = []
    for k, v in pairs:
        if k in PAGE_PARAMS:
            try:
                n = int(v)
            except ValueError:
                n = None
            if n is not None and n > cap:
                v, changed = str(cap), True
        out.append((k, v))
    return urlencode(out) if changed else query
