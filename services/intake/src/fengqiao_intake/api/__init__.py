"""HTTP routers, one file per resource (thin: parse, authorize, call one use case, shape the response)."""

from typing import Annotated

from fastapi import Header, Response

from ..deps import DepsDep

__all__ = ["DepsDep", "IdempotencyKey", "replayed"]

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="a retry with the same key returns the first result and creates nothing new"),
]


def replayed(response: Response, created: bool) -> None:
    """A create answers 201, or 200 with ``Idempotent-Replayed: true`` for a retry."""
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
