"""Topic -> handler wiring (thin: each handler opens a unit of work in the consumer's transaction
and calls one use case). ``ignores``: the followed owners' topics this group does not handle."""

from __future__ import annotations

from collections.abc import Callable

from fengqiao_common.app import ConsumerSpec, Runtime

from .usecases import cases, routing

IGNORES = frozenset({
    # intake
    "case.rated", "case.regraded", "weak-signal.reported",
    "case.transferred",  # a case moved to another grid keeps its orders with their departments
    # mediation (only the outcome matters to dispatch)
    "mediation.booked", "mediation.rescheduled", "mediation.cancelled", "session.sealed", "agreement.generated",
    "judicial.applied", "judicial-material.requested", "judicial.reminded", "judicial.rejected",
})


def consumer_specs(runtime: Callable[[], Runtime], group: str) -> list[ConsumerSpec]:
    """The dispatch consumer group; ``runtime`` is read when an event arrives (its deps are built)."""

    def deps():
        return runtime().deps

    async def on_reported(session, env, p):
        d = deps()
        await routing.receive_case(d.uow_joined(session), env, p, jurisdiction=d.jurisdiction)

    async def on_reopened(session, env, p):
        d = deps()
        await cases.on_case_reopened(d.uow_joined(session), env, p, jurisdiction=d.jurisdiction)

    async def on_merged(session, env, p):
        await cases.on_case_merged(deps().uow_joined(session), env, p)

    async def on_confirmed(session, env, p):
        await cases.on_mediation_confirmed(deps().uow_joined(session), env, p)

    async def on_failed(session, env, p):
        await cases.on_mediation_failed(deps().uow_joined(session), env, p)

    return [ConsumerSpec(name=group, handlers={
        "grid.event.reported": on_reported,
        "case.reopened": on_reopened,
        "case.merged": on_merged,
        "mediation.confirmed": on_confirmed,
        "mediation.failed": on_failed,
    }, ignores=IGNORES)]


def specs(runtime: Runtime) -> list[ConsumerSpec]:
    return consumer_specs(lambda: runtime, runtime.settings.consumer_group)
