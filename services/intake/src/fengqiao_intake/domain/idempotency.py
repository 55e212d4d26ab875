"""Idempotency-Key: same caller + key -> the first result; the same key with another body -> 409."""

from __future__ import annotations

import hashlib

from fengqiao_common.errors import Conflict
from pydantic import BaseModel


class KeyTaken(Exception):
    """A repository's unique key (an idempotency key) was taken by a concurrent writer."""

    def __init__(self, constraint: str | None = None):
        super().__init__(constraint or "unique key taken")
        self.constraint = constraint


def model_hash(model: BaseModel) -> str:
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


def bytes_hash(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def reused(**current) -> Conflict:
    return Conflict("同一幂等键已用于不同的请求内容",
                    "this Idempotency-Key was already used with a different request body",
                    code="idempotency_key_reused", **current)


def replay(stored_hash: str | None, request_hash: str, **current) -> None:
    """The decision on a retry: the same request replays the first result, another body is refused."""
    if stored_hash != request_hash:
        raise reused(**current)
