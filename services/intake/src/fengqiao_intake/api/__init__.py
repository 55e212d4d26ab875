"""HTTP routers, one file per resource (thin: parse, authorize, call service, shape response)."""

from typing import Annotated

from fastapi import Depends, Header, Request

from ..service import Deps


async def _deps(request: Request) -> Deps:  # async: a plain def would run in the thread pool
    return request.app.state.runtime.state["deps"]


AppDeps = Annotated[Deps, Depends(_deps)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="a retry with the same key returns the first result and creates nothing new"),
]
