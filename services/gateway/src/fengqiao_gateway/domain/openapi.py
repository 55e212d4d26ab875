"""Merging the services' OpenAPI documents into one document of the whole public API. Pure."""

from __future__ import annotations

import copy
import json
from typing import Any

from .routing import match

REF = "#/components/schemas/"
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "Staff access token from POST /api/v1/auth/login"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "API key of an external system or a department's own system"},
}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(REF) and v[len(REF):] in renames:
                out[k] = REF + renames[v[len(REF):]]
            else:
                out[k] = _rewrite_refs(v, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def merge(own: dict, services: dict[str, dict | None], *, title: str, version: str,
          description: str = "") -> dict:
    """One document: the gateway's own paths plus each service's public paths (those the gateway routes
    to it). Schema names that clash with a different definition get the service name as prefix
    (``IntakeCaseOut``) and every ``$ref`` of that service is rewritten; identical schemas are shared."""
    doc: dict[str, Any] = {
        "openapi": own.get("openapi", "3.1.0"),
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": dict(SECURITY_SCHEMES)},
        "tags": [],
        "security": [{"bearerAuth": []}, {"apiKey": []}, {}],
    }
    schemas: dict[str, Any] = doc["components"]["schemas"]
    op_ids: set[str] = set()
    tag_names: set[str] = set()
    unavailable: list[str] = []

    def add(source: str, spec: dict, path_filter) -> None:
        spec = copy.deepcopy(spec)
        src_schemas = spec.get("components", {}).get("schemas", {})
        renames: dict[str, str] = {}
        for name, schema in src_schemas.items():
            if name in schemas and _canon(schemas[name]) != _canon(schema):
                renames[name] = source.capitalize() + name
        src_schemas = _rewrite_refs(src_schemas, renames)
        for name, schema in src_schemas.items():
            schemas.setdefault(renames.get(name, name), schema)
        for path, item in spec.get("paths", {}).items():
            if not path_filter(path):
                continue
            item = _rewrite_refs(item, renames)
            for op in item.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                oid = op.get("operationId")
                if oid:
                    if oid in op_ids:
                        op["operationId"] = oid = f"{source}_{oid}"
                    op_ids.add(oid)
                op.setdefault("x-fengqiao-service", source)
            doc["paths"][path] = item
        for tag in spec.get("tags", []) or []:
            if tag.get("name") not in tag_names:
                tag_names.add(tag.get("name"))
                doc["tags"].append(tag)
        for kind, comps in spec.get("components", {}).items():
            if kind in ("schemas", "securitySchemes"):
                continue
            target = doc["components"].setdefault(kind, {})
            for name, comp in _rewrite_refs(comps, renames).items():
                target.setdefault(name, comp)

    add("gateway", own, lambda p: p.startswith("/api/v1/auth") or p.startswith("/api/v1/admin"))
    for service, spec in services.items():
        if spec is None:
            unavailable.append(service)
            continue
        add(service, spec, lambda p, s=service: match(p) == s)
    if unavailable:
        doc["info"]["x-unavailable-services"] = unavailable
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc
