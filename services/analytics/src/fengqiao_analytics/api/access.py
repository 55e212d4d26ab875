"""Who may read what (at the door): dashboard roles, admins, and the big screen's kiosk mode."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fengqiao_common.auth import ADMIN, DISPATCHER, LEADER, Principal, current_principal, require_roles
from fengqiao_common.errors import Forbidden

from ..deps import Deps, DepsDep
from ..domain.policy import DRILL_ROLES

PREFIX = "/api/v1/analytics"

# dashboards: leaders, centre dispatchers and admins (require_roles lets admins pass)
Reader = Annotated[Principal, require_roles(LEADER, DISPATCHER)]
# drill-downs (rows of cases, orders, signals): also department officers/systems and grid workers, each
# limited to their rows by the use case (domain/policy.py)
DrillReader = Annotated[Principal, require_roles(*DRILL_ROLES)]
Triager = Annotated[Principal, require_roles(LEADER, DISPATCHER)]
Admin = Annotated[Principal, require_roles(ADMIN)]


async def screen_viewer(request: Request, deps: DepsDep) -> Principal | None:
    """The big screen is anonymous by default (a kiosk on the wall, aggregates only); with
    ANALYTICS_SCREEN_PUBLIC=false it needs a dashboard role like the API."""
    if deps.settings.screen_public:
        return None
    p = await current_principal(request)
    if not p.has(LEADER, DISPATCHER, ADMIN):
        raise Forbidden("无权查看大屏", "requires one of the roles: leader, dispatcher, admin")
    return p


ScreenViewer = Annotated[Principal | None, Depends(screen_viewer)]
__all__ = ["PREFIX", "Admin", "Deps", "DepsDep", "DrillReader", "Reader", "ScreenViewer", "Triager"]
