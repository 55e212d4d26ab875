from typing import Annotated

from fastapi import Depends, Path, Query, Request

from ..deps import Deps

PREFIX = "/api/v1/mediation"


def get_deps(request: Request) -> Deps:
    return request.app.state.runtime.state["deps"]


MediationDeps = Annotated[Deps, Depends(get_deps)]


# Path ids (UUIDs, mediator codes) and free-text query filters: anything else is a 422, never a database error.
Ident = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")]
Code = Annotated[str | None, Query(pattern=r"^[^\x00]{1,80}$")]
