"""The commands and queries the use cases take (built by the routers from request bodies)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fengqiao_events.payloads.common import Location

from ..domain.rules import RuleBody


@dataclass(frozen=True)
class SignFor:
    order_id: str
    officer: str | None = None


@dataclass(frozen=True)
class CheckIn:
    order_id: str
    location: Location
    officer: str | None = None


@dataclass(frozen=True)
class Progress:
    order_id: str
    note: str
    attachments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Resolve:
    order_id: str
    result: str
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Return:
    order_id: str
    reason: str


@dataclass(frozen=True)
class Verify:
    order_id: str
    accepted: bool = True
    comment: str | None = None


@dataclass(frozen=True)
class ManualDispatch:
    case_id: str
    lead: str | None = None
    assist: list[str] = field(default_factory=list)
    on_site_required: bool = True


@dataclass(frozen=True)
class ReferToMediation:
    case_id: str
    category: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CreateRule:
    body: RuleBody
    rule_id: str | None = None


@dataclass(frozen=True)
class SaveRule:
    """A new version of a rule: an edit (``body``) or a deletion marker (``delete``). ``base_version``
    guards lost updates."""

    rule_id: str
    body: RuleBody | None = None
    base_version: int | None = None
    delete: bool = False


@dataclass(frozen=True)
class Page:
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class OrderQuery:
    status: str | None = None
    department: str | None = None
    case_id: str | None = None
    limit: int = 100
    offset: int = 0
