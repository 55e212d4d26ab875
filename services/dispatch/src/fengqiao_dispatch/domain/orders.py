"""The order state machine: which action is allowed in which state, and who may act."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fengqiao_common.auth import ADMIN as ADMIN_ROLE
from fengqiao_common.auth import DEPARTMENT_OFFICER as DEPARTMENT_OFFICER_ROLE
from fengqiao_common.auth import DEPARTMENT_SYSTEM as DEPARTMENT_SYSTEM_ROLE
from fengqiao_common.auth import DISPATCHER as DISPATCHER_ROLE
from fengqiao_common.auth import LEADER as LEADER_ROLE
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Forbidden, NotFound

DISPATCHED = "dispatched"
SIGNED = "signed"
ON_SITE = "on_site"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
VERIFIED = "verified"
RETURNED = "returned"
CANCELLED = "cancelled"
STATUSES = (DISPATCHED, SIGNED, ON_SITE, IN_PROGRESS, RESOLVED, VERIFIED, RETURNED, CANCELLED)
OPEN = (DISPATCHED, SIGNED, ON_SITE, IN_PROGRESS, RESOLVED)
ACTIVE = (DISPATCHED, SIGNED, ON_SITE, IN_PROGRESS, RESOLVED, VERIFIED)  # not returned / cancelled

ZH = {
    DISPATCHED: "已派发", SIGNED: "已签收", ON_SITE: "已到场", IN_PROGRESS: "处置中", RESOLVED: "已办结",
    VERIFIED: "已核验", RETURNED: "已退单", CANCELLED: "已撤销",
}
ACTION_ZH = {
    "sign_for": "签收", "check_in": "报到", "progress": "反馈进展", "resolve": "办结", "return": "退单",
    "verify": "核验", "reject": "核验不通过", "cancel": "撤销",
}


class TransitionError(Exception):
    def __init__(self, action: str, status: str):
        super().__init__(f"cannot {action} an order that is {status}")
        self.action, self.status = action, status

    @property
    def zh(self) -> str:
        return f"工单当前状态为「{ZH.get(self.status, self.status)}」，不能{ACTION_ZH.get(self.action, self.action)}"


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[str, ...]
    to: str


def transitions(on_site_required: bool) -> dict[str, Transition]:
    working = (ON_SITE, IN_PROGRESS) if on_site_required else (SIGNED, ON_SITE, IN_PROGRESS)
    return {
        "sign_for": Transition((DISPATCHED,), SIGNED),
        "check_in": Transition((SIGNED,), ON_SITE),
        "progress": Transition(working, IN_PROGRESS),
        "resolve": Transition(working, RESOLVED),
        "return": Transition((DISPATCHED, SIGNED, ON_SITE, IN_PROGRESS), RETURNED),
        "verify": Transition((RESOLVED,), VERIFIED),
        "reject": Transition((RESOLVED,), IN_PROGRESS),
        "cancel": Transition(OPEN, CANCELLED),
    }


def next_status(action: str, status: str, *, on_site_required: bool = True) -> str:
    t = transitions(on_site_required)[action]
    if status not in t.allowed_from:
        raise TransitionError(action, status)
    return t.to


def case_resolved(orders: list[tuple[str, str]]) -> bool:
    """``orders``: (role, status) of the case's orders. Resolved when an active lead order is resolved
    (or verified) and every active assisting order is done too."""
    active = [(r, s) for r, s in orders if s in ACTIVE]
    leads = [s for r, s in active if r == "lead"]
    return bool(leads) and all(s in (RESOLVED, VERIFIED) for _r, s in active)


def case_closed(orders: list[tuple[str, str]]) -> bool:
    active = [(r, s) for r, s in orders if s in ACTIVE]
    return bool(active) and any(r == "lead" for r, _ in active) and all(s == VERIFIED for _r, s in active)


# ----------------------------------------------------------------------------------------------
# Who may read or act on an order, and the transition as a domain error
# ----------------------------------------------------------------------------------------------
CENTRE_ROLES = (DISPATCHER_ROLE, LEADER_ROLE, ADMIN_ROLE)
DEPARTMENT_ROLES = (DEPARTMENT_OFFICER_ROLE, DEPARTMENT_SYSTEM_ROLE)


def may_read(principal: Principal, order: dict) -> bool:
    """The centre reads every order; a department only its own."""
    if principal.has(*CENTRE_ROLES):
        return True
    return principal.has(*DEPARTMENT_ROLES) and principal.department == order["department"]


def may_list(principal: Principal) -> bool:
    return principal.has(*CENTRE_ROLES) or (principal.has(*DEPARTMENT_ROLES) and bool(principal.department))


def authorize_action(principal: Principal, order: dict, *, centre: bool = False) -> None:
    """Departments act on their own orders, the centre verifies. Another department's order is not
    found (its existence is not revealed); the centre acting as a department is forbidden."""
    if centre:
        if not principal.has(DISPATCHER_ROLE, ADMIN_ROLE):
            if may_read(principal, order):
                raise Forbidden("只有综治中心可以核验", "only the centre verifies")
            raise NotFound("order", "工单")
    elif not (principal.has(*DEPARTMENT_ROLES, ADMIN_ROLE) and principal.department == order["department"]):
        if principal.has(*CENTRE_ROLES):
            raise Forbidden("只有承办部门可以办理工单", "only the owning department acts on its order")
        raise NotFound("order", "工单")


def transition(action: str, order: dict) -> str:
    """The order's next status for ``action``; a step its state does not allow is a conflict."""
    try:
        return next_status(action, order["status"], on_site_required=order["on_site_required"])
    except TransitionError as exc:
        raise Conflict(exc.zh, str(exc), code="illegal_transition", status=order["status"],
                       order_id=order["order_id"]) from exc


def within(deadline: datetime | None, now: datetime) -> bool:
    return deadline is None or now <= deadline


def officer(principal: Principal, given: str | None) -> str:
    return given or principal.name or principal.sub


def missed(order: dict, now: datetime) -> bool:
    """An open order past a limit of a step it has not done (the SQL twin is in the repositories)."""
    s = order["status"]
    if s == DISPATCHED and order["sign_for_by"] <= now:
        return True
    if s in (DISPATCHED, SIGNED) and order["on_site_by"] is not None and order["on_site_by"] <= now:
        return True
    return s in (DISPATCHED, SIGNED, ON_SITE, IN_PROGRESS) and order["resolve_by"] <= now
