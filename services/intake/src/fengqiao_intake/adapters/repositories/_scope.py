"""A :class:`~fengqiao_intake.domain.visibility.Scope` as a SQL condition."""

from __future__ import annotations

from sqlalchemy import false, or_, select

from ...domain.visibility import Scope
from ..orm import case_departments, case_mediators, case_requesters, cases, weak_signals


def case_condition(scope: Scope | None):
    """None: no restriction."""
    if scope is None or scope.everything:
        return None
    conds = []
    if scope.source_system is not None:
        conds.append(cases.c.id.in_(
            select(case_requesters.c.case_id).where(case_requesters.c.source_system == scope.source_system)))
    if scope.department is not None:
        conds.append(cases.c.id.in_(
            select(case_departments.c.case_id).where(case_departments.c.department == scope.department)))
    if scope.mediator is not None:
        conds.append(cases.c.id.in_(
            select(case_mediators.c.case_id).where(case_mediators.c.mediator_id == scope.mediator)))
    if scope.grids:
        conds.append(cases.c.grid.in_(scope.grids))
    if scope.reporter is not None:
        conds.append(cases.c.reporter["id"].astext == scope.reporter)
    return or_(*conds) if conds else false()


def signal_condition(scope: Scope):
    if scope.everything:
        return None
    return or_(weak_signals.c.grid.in_(scope.grids or ("",)), weak_signals.c.reported_by == scope.reporter)
