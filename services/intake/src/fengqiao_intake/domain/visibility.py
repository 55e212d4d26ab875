"""Which cases a principal may read (pure): the scope of a principal, and the test of one case against it.

The policy (docs/data-protection.md, 个人信息保护法 minimum necessary + purpose limitation):
- dispatcher, leader, admin: their area (:func:`area_scope`: the whole street today);
- department officer / department system: the cases their department holds or held an order on
  (``case_departments``, recorded from the order events);
- mediator: the cases of mediations booked with them (``case_mediators``, from mediation.booked /
  mediation.rescheduled, which carry ``mediator_id``);
- grid worker: their grids and their own reports;
- external system: the cases it requested (a merged-away case's system also follows the surviving
  case, because its requesters move along);
- anyone else (party, unknown roles): nothing.
A principal with several roles sees the union. The SQL repositories translate a :class:`Scope`
into a WHERE clause; the in-memory fakes call :func:`case_visible` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    EXTERNAL_SYSTEM,
    GRID_WORKER,
    LEADER,
    MEDIATOR,
    SERVICE,
    Principal,
)

STAFF = (DISPATCHER, ADMIN)
AREA_ROLES = (DISPATCHER, LEADER, ADMIN, SERVICE)
DEPARTMENT_ROLES = (DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)
SIGNAL_READERS = (DISPATCHER, LEADER, ADMIN, SERVICE)


@dataclass(frozen=True)
class Scope:
    """``everything``, or the union of: cases requested by ``source_system``, cases in ``grids``,
    cases reported by ``reporter``, cases ``department`` holds or held an order on, cases of
    mediations booked with ``mediator``. Nothing of these: nothing visible."""

    everything: bool = False
    source_system: str | None = None
    grids: tuple[str, ...] = ()
    reporter: str | None = None
    department: str | None = None
    mediator: str | None = None


EVERYTHING = Scope(everything=True)


@dataclass(frozen=True)
class Links:
    """What ties a case to readers besides its own columns: requesting systems, departments that
    hold or held an order on it, mediators of its mediations."""

    systems: frozenset[str | None] = field(default_factory=frozenset)
    departments: frozenset[str] = field(default_factory=frozenset)
    mediators: frozenset[str] = field(default_factory=frozenset)


NO_LINKS = Links()


def area_scope(principal: Principal) -> Scope:
    """The area of a dispatcher, leader or admin: today the whole street (intake serves one street).

    Hook for the district–street–community levels (issue #16): when the principal carries an area
    claim, return ``Scope(areas=...)`` here and translate it in ``adapters/repositories/_scope.py``
    (and ``case_visible``); nothing else in intake decides the area."""
    return EVERYTHING


def case_scope(principal: Principal) -> Scope:
    if principal.has(*AREA_ROLES):
        return area_scope(principal)
    system = principal.external_system if principal.has(EXTERNAL_SYSTEM) and principal.external_system else None
    worker = principal.has(GRID_WORKER)
    department = principal.department if principal.has(*DEPARTMENT_ROLES) and principal.department else None
    mediator = principal.mediator_id if principal.has(MEDIATOR) and principal.mediator_id else None
    return Scope(source_system=system, grids=tuple(principal.grids or ()) if worker else (),
                 reporter=principal.sub if worker else None, department=department, mediator=mediator)


def case_visible(scope: Scope, case: dict, links: Links = NO_LINKS) -> bool:
    if scope.everything:
        return True
    if scope.source_system is not None and scope.source_system in links.systems:
        return True
    if scope.department is not None and scope.department in links.departments:
        return True
    if scope.mediator is not None and scope.mediator in links.mediators:
        return True
    if scope.grids and case.get("grid") in scope.grids:
        return True
    return scope.reporter is not None and (case.get("reporter") or {}).get("id") == scope.reporter


def signal_scope(principal: Principal) -> Scope:
    """Weak signals: the reader's grids and their own reports (centre, leader: every signal)."""
    if principal.has(*SIGNAL_READERS):
        return EVERYTHING
    return Scope(grids=tuple(principal.grids or ()), reporter=principal.sub)


def signal_visible(scope: Scope, signal: dict) -> bool:
    if scope.everything:
        return True
    return signal.get("grid") in scope.grids or signal.get("reported_by") == scope.reporter


def webhook_owner(principal: Principal) -> str | None:
    """The external system whose webhooks the principal manages (None: admin, every webhook)."""
    if principal.has(ADMIN):
        return None
    return principal.external_system or ""


def may_report_in(principal: Principal, grid: str | None) -> bool:
    """Grid workers report only in their own grids; staff anywhere."""
    return principal.has(*STAFF) or grid in (principal.grids or ())


def reader_links(data: dict) -> tuple[str | None, str | None]:
    """What a consumed event adds to a case's readers: the department of an order event (every event
    about an order names it), the mediator of a booking. (None, None): nothing."""
    department = data.get("department") if data.get("order_id") and isinstance(data.get("department"), str) else None
    mediator = data.get("mediator_id") if isinstance(data.get("mediator_id"), str) else None
    return department or None, mediator or None
