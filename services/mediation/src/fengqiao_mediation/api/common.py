from typing import Annotated

from fastapi import Depends, Request

from ..deps import Deps

PREFIX = "/api/v1/mediation"


def get_deps(request: Request) -> Deps:
    return request.app.state.runtime.state["deps"]


MediationDeps = Annotated[Deps, Depends(get_deps)]
