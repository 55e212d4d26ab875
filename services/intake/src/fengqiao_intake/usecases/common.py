"""What several use cases share: the service context, the actor, finding a visible case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden, Invalid, NotFound, field_error
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events.payloads.common import Actor

from ..domain.visibility import case_scope

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


@dataclass
class Context:
    """The catalogue and settings use cases decide with (no I/O)."""

    jurisdiction: Jurisdiction
    settings: Any
    timezone: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.timezone = ZoneInfo(self.settings.timezone)

    @property
    def sms(self):
        """The resident messages' policy (quiet hours, template codes), or None when they are off."""
        from .notifications import policy_of

        return policy_of(self.settings)

    @property
    def requester_key(self) -> bytes:
        """The HMAC key of ``requester_ref`` (INTAKE_REQUESTER_KEY)."""
        return self.settings.requester_key_bytes

    def registered_system(self, code: str | None) -> bool:
        return code in {x.code for x in self.jurisdiction.external_systems}

    def require_registered(self, code: str | None) -> None:
        if not self.registered_system(code):
            raise Forbidden(f"外部系统 {code} 未登记", f"external system {code} is not registered")


@dataclass
class Created:
    """A create's result: the item, and whether it is new (False: an idempotent replay)."""

    item: dict
    created: bool


def actor(principal: Principal) -> Actor:
    return Actor(**principal.actor())


def actor_json(principal: Principal) -> dict:
    return actor(principal).model_dump(mode="json")


async def visible_case(uow: IntakeUoW, principal: Principal | None, ref: str, *, lock: bool = False) -> dict:
    """By id or case number; NotFound when missing *or* not visible (no existence leak)."""
    case = await uow.cases.get(ref, case_scope(principal) if principal is not None else None, lock=lock)
    if case is None:
        raise NotFound("case", "案件")
    return case


def bad(field: str, zh: str, en: str, code: str = "invalid") -> Invalid:
    """One field's rule broken (422 ``validation_failed``, the detail in the message too)."""
    return Invalid(f"请求参数有误：{zh}", f"request validation failed: {en}",
                   fields=[field_error(field, code, zh, en, ["body", *field.split(".")])])
