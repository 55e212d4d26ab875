"""Who may read what (pure): the scope of a principal, and the test of one object against it.

The SQL repositories translate a :class:`Scope` into a WHERE clause; the in-memory fakes call
:func:`case_visible` / :func:`signal_visible` directly. Both follow these rules:
external systems see the cases they requested (a merged-away case's system also follows the
surviving case, because its requesters move along); grid workers see their grids and their own
reports; centre, leader, department and mediator roles see everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fengqiao_common.auth import ADMIN, DISPATCHER, EXTERNAL_SYSTEM, GRID_WORKER, Principal

STAFF = (DISPATCHER, ADMIN)
READ_ALL = ("dispatcher", "admin", "leader", "department_officer", "department_system", "mediator", "service")


@dataclass(frozen=True)
class Scope:
    """``everything``, or the union of: cases requested by ``source_system``, cases in ``grids``,
    cases reported by ``reporter``. Nothing of these: nothing visible."""

    everything: bool = False
    source_system: str | None = None
    grids: tuple[str, ...] = ()
    reporter: str | None = None


EVERYTHING = Scope(everything=True)


def case_scope(principal: Principal) -> Scope:
    if principal.has(*READ_ALL):
        return EVERYTHING
    system = principal.external_system if principal.has(EXTERNAL_SYSTEM) and principal.external_system else None
    worker = principal.has(GRID_WORKER)
    return Scope(source_system=system, grids=tuple(principal.grids or ()) if worker else (),
                 reporter=principal.sub if worker else None)


def case_visible(scope: Scope, case: dict, requester_systems: Iterable[str | None]) -> bool:
    if scope.everything:
        return True
    if scope.source_system is not None and scope.source_system in set(requester_systems):
        return True
    if scope.grids and case.get("grid") in scope.grids:
        return True
    return scope.reporter is not None and (case.get("reporter") or {}).get("id") == scope.reporter


def signal_scope(principal: Principal) -> Scope:
    """Weak signals: the reader's grids and their own reports (read-all roles: every signal)."""
    if principal.has(*READ_ALL):
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
