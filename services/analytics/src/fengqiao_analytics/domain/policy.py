"""Access by purpose to analytics' per-case rows (issue #15): who sees which rows of the drill-downs
(exports of cases and orders, the weak-signal ledger). Aggregates (summary, departments, rates, trends,
the big screen) carry no rows and stay with the dashboard roles.

| role | cases / orders rows | weak signals | pseudonymous requester id |
|---|---|---|---|
| admin, dispatcher | the street | the street | shown |
| leader | the street | the street | masked |
| department_officer, department_system | cases their department holds or held an order on; its orders | assigned to their department | masked |
| grid_worker | cases and orders in their grids | in their grids | masked |
| mediator | none (analytics holds no mediations: 403) | none | — |

Analytics stores no names, phones or ID numbers at all (the events carry none; the name of the officer
who signed for an order is not kept)."""

from __future__ import annotations

from dataclasses import dataclass

from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    GRID_WORKER,
    LEADER,
    Principal,
)

STREET_ROLES = (ADMIN, DISPATCHER, LEADER)
DRILL_ROLES = (LEADER, DISPATCHER, DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM, GRID_WORKER)  # admin always passes
REQUESTER_ROLES = (ADMIN, DISPATCHER)  # may see the pseudonymous requester id


@dataclass(frozen=True)
class Scope:
    """The rows a principal may see: the whole street, or those of some departments and/or grids
    (nothing when both are empty and ``street`` is false)."""

    street: bool = False
    departments: frozenset[str] = frozenset()
    grids: frozenset[str] = frozenset()
    requester: bool = False  # the pseudonymous requester id (and a requester signal's subject) unmasked

    @property
    def empty(self) -> bool:
        return not (self.street or self.departments or self.grids)

    def sees_case(self, case: dict, order_departments: set[str]) -> bool:
        """``order_departments``: every department that holds or held an order on the case."""
        return self.street or bool(self.departments & order_departments) or case.get("grid") in self.grids

    def sees_order(self, order: dict) -> bool:
        return self.street or order.get("department") in self.departments or order.get("grid") in self.grids

    def sees_signal(self, signal: dict) -> bool:
        return self.street or signal.get("assignee") in self.departments or signal.get("grid") in self.grids


def scope_of(p: Principal) -> Scope:
    if p.has(*STREET_ROLES):
        return Scope(street=True, requester=p.has(*REQUESTER_ROLES))
    depts = frozenset({p.department}) if p.department and p.has(DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM) else frozenset()
    grids = frozenset(p.grids) if p.has(GRID_WORKER) else frozenset()
    return Scope(departments=depts, grids=grids)
