"""Helpers for intake tests: identities, request bodies, unique locations."""

from __future__ import annotations

import itertools

from fengqiao_devstack.testing import identity_headers

_spot = itertools.count()


def spot() -> dict:
    """A location no other test uses (1.1 km apart), so duplicate detection does not cross tests."""
    i = next(_spot)
    return {"lat": 21.0 + (i % 100) * 0.01, "lon": 110.0 + (i // 100) * 0.01}


def worker(*grids: str, **kw) -> dict:
    return identity_headers(roles=["grid_worker"], grids=list(grids) or ["WH-01"], name="网格员", **kw)


def dispatcher(**kw) -> dict:
    return identity_headers(roles=["dispatcher"], department="ZZZX", name="调度员", **kw)


def system(code: str = "yue-sheng-shi", **kw) -> dict:
    kw.setdefault("sub", f"key-{code}")
    return identity_headers(kind="api_key", roles=["external_system"], external_system=code, **kw)


def grid_event(**over) -> dict:
    body = {
        "category": "neighbour", "grid": "WH-01", "title": "邻里噪音",
        "description": "楼上夜间装修噪音扰民，双方多次争吵。",
        "people_involved": 2, "location": {**spot(), "address": "外海大道 1 号"},
        "parties": [{"name": "张三丰", "phone": "13812345678", "id_card": "11010519491231002X", "role": "requester"}],
    }
    body.update(over)
    return body


