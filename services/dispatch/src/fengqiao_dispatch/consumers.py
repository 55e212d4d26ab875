"""Topic -> handler wiring (thin: each handler calls a use case in service.py)."""

from __future__ import annotations

from collections.abc import Callable

from fengqiao_common.app import ConsumerSpec, Runtime

from . import service


def consumer_specs(runtime: Callable[[], Runtime], group: str) -> list[ConsumerSpec]:
    def bind(fn):
        async def handler(session, env, payload):
            await fn(runtime(), session, env, payload)

        handler.__name__ = fn.__name__
        return handler

    return [ConsumerSpec(name=group, handlers={
        "grid.event.reported": bind(service.receive_case),
        "case.reopened": bind(service.on_case_reopened),
        "case.merged": bind(service.on_case_merged),
        "mediation.confirmed": bind(service.on_mediation_confirmed),
        "mediation.failed": bind(service.on_mediation_failed),
    })]
