"""Shared pieces of the routers: the prefix, path/query types, the deps and the transport-only errors."""

from typing import Annotated

from fastapi import Path, Query
from fengqiao_common.errors import ApiError

from ..deps import DepsDep as MediationDeps  # noqa: F401
from ..domain.court import CourtUnavailable
from ..domain.signing import TooManyCodes

PREFIX = "/api/v1/mediation"

# Path ids (UUIDs, mediator codes) and free-text query filters: anything else is a 422, never a database error.
Ident = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")]
Code = Annotated[str | None, Query(pattern=r"^[^\x00]{1,80}$")]

COURT_DOWN = {502: {"description": "the court's system is unavailable (nothing was recorded); retry later"}}
TOO_MANY = {429: {"description": "too many one-time codes sent for this record and party"}}


def court_unavailable(exc: CourtUnavailable) -> ApiError:
    """The court adapter failed: a bad gateway (502), as the service has always answered."""
    return ApiError(502, exc.code, exc.zh, exc.en)


def too_many_codes(exc: TooManyCodes) -> ApiError:
    return ApiError(429, exc.code, exc.zh, exc.en)
