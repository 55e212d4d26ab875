"""Topic -> handler (thin): referrals from dispatch open a mediation."""

from fengqiao_common.app import ConsumerSpec

from . import service
from .deps import Deps


def consumer_specs(get_deps, group: str = "mediation") -> list[ConsumerSpec]:
    async def on_referred(session, envelope, payload):
        await service.on_referred(session, get_deps(), envelope, payload)

    return [ConsumerSpec(name=group, handlers={"mediation.referred": on_referred})]


__all__ = ["Deps", "consumer_specs"]
