"""Topic -> handler (thin): referrals from dispatch open a mediation. The group follows dispatch's topics and
handles only ``mediation.referred``; the others are listed in ``ignores``."""

from __future__ import annotations

from collections.abc import Callable

from fengqiao_common.app import ConsumerSpec, Runtime
from fengqiao_events.registry import specs_of_owner

from .deps import Deps
from .usecases import referrals

HANDLED = frozenset({"mediation.referred"})
IGNORED = frozenset(s.topic for s in specs_of_owner("dispatch")) - HANDLED


def consumer_specs(get_deps: Callable[[], Deps], group: str = "mediation") -> list[ConsumerSpec]:
    async def on_referred(session, envelope, payload):
        await referrals.on_referred(get_deps().uow_joined(session), payload)

    return [ConsumerSpec(name=group, handlers={"mediation.referred": on_referred}, ignores=IGNORED)]


def specs(runtime: Runtime) -> list[ConsumerSpec]:
    return consumer_specs(lambda: runtime.deps, runtime.settings.consumer_group)
