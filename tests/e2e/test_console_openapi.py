"""The console's typed API client is generated (openapi-typescript, in `npm run build`) from the snapshot
services/gateway/web/openapi.json; this test keeps the snapshot equal to the gateway's live merged /openapi.json,
so a renamed or removed field shows up as a failed build of the console (vue-tsc) instead of a broken page.
FQ_UPDATE_OPENAPI=1 rewrites the snapshot from the live document (then `make install` rebuilds the console)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "services" / "gateway" / "web" / "openapi.json"
LIVE_COPY = REPO / "test-artifacts" / "console" / "openapi.live.json"


def _canonical(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


async def test_console_openapi_snapshot_matches_the_live_gateway(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200, r.text
    live = _canonical(r.json())
    if os.environ.get("FQ_UPDATE_OPENAPI") == "1":
        SNAPSHOT.write_text(live, encoding="utf-8")
    snapshot = SNAPSHOT.read_text(encoding="utf-8")
    if snapshot != live:
        out = LIVE_COPY
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(live, encoding="utf-8")
        old, new = json.loads(snapshot), json.loads(live)
        changed = sorted(k for k in set(old["components"]["schemas"]) | set(new["components"]["schemas"])
                         if old["components"]["schemas"].get(k) != new["components"]["schemas"].get(k))
        paths = sorted(k for k in set(old["paths"]) | set(new["paths"]) if old["paths"].get(k) != new["paths"].get(k))
        raise AssertionError(
            f"the gateway's /openapi.json differs from {SNAPSHOT.name} (schemas {changed[:20]}, paths {paths[:20]}); "
            f"the live document is in {out}: rerun with FQ_UPDATE_OPENAPI=1 and `npm run build --prefix "
            "services/gateway/web` to see which console code breaks")
