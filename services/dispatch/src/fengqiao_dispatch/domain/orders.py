"""The order state machine: which action is allowed in which state, and who may act."""

from __future__ import annotations

from dataclasses import dataclass

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
