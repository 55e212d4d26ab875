"""Topic -> handler (thin): order, check-in, mediation and closure events update status + timeline."""

from __future__ import annotations

from fengqiao_common.app import ConsumerSpec

from . import service
from .domain.status import EFFECTS

CONSUMER_GROUP = "intake-case-status"


def consumer_specs(get_deps) -> list[ConsumerSpec]:
    async def on_event(session, envelope, payload) -> None:
        await service.record_event(session, get_deps(), envelope, payload)

    return [ConsumerSpec(name=CONSUMER_GROUP, handlers={topic: on_event for topic in EFFECTS})]
