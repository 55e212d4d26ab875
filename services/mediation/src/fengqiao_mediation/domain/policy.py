"""Who may do what with a mediation. Pure: a principal and rows in, a decision out (or ``Forbidden``).

Party identity: a party's ``party_id`` claim is the id of its row in ``parties`` (returned when the
mediation is booked); a party sees only the mediation that row belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fengqiao_common.auth import (
    ADMIN,
    DISPATCHER,
    EXTERNAL_SYSTEM,
    LEADER,
    MEDIATOR,
    PARTY,
    SERVICE,
    Principal,
)
from fengqiao_common.errors import Forbidden

from .signing import IN_PERSON, LOGIN, OTP

STAFF = (ADMIN, DISPATCHER)
READ_ALL = (*STAFF, LEADER, SERVICE)  # may read every mediation (leaders see personal data masked)


def _is_mediator_of(p: Principal, med: dict) -> bool:
    return bool(p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"])


def _is_system_of(p: Principal, med: dict) -> bool:
    return bool(p.has(EXTERNAL_SYSTEM) and p.external_system and p.external_system == med["external_system"])


def may_view(p: Principal, med: dict, party_ids: Iterable[str]) -> bool:
    if p.has(*READ_ALL) or _is_mediator_of(p, med) or _is_system_of(p, med):
        return True
    return bool(p.has(PARTY) and p.party_id and p.party_id in set(party_ids))


def authorize_view(p: Principal, med: dict, party_ids: Iterable[str]) -> None:
    if not may_view(p, med, party_ids):
        raise Forbidden("无权查看此调解案件", "you may not see this mediation")


def authorize_manage(p: Principal, med: dict) -> None:
    """Book, reschedule, cancel: centre staff, the mediator in charge, the external system that booked."""
    if p.has(*STAFF) or _is_mediator_of(p, med) or _is_system_of(p, med):
        return
    raise Forbidden("无权办理此调解案件", "you may not manage this mediation")


def authorize_mediator(p: Principal, med: dict) -> None:
    """Record sessions, generate the agreement: the mediator in charge (or an admin)."""
    if p.has(ADMIN) or _is_mediator_of(p, med):
        return
    raise Forbidden("仅承办调解员可执行此操作", "only the mediator in charge may do this")


def authorize_fail(p: Principal, med: dict) -> None:
    if p.has(*STAFF) or (p.has(MEDIATOR) and p.mediator_id == med["mediator_id"]):
        return
    raise Forbidden("无权办理此调解案件", "you may not manage this mediation")


def authorize_new_booking(p: Principal) -> None:
    if not p.has(DISPATCHER, EXTERNAL_SYSTEM, ADMIN):
        raise Forbidden("仅综治中心或外部系统可新建调解预约", "only the centre or an external system may book")


def authorize_court_application(p: Principal, med: dict) -> None:
    authorize_manage(p, med)
    if p.has(EXTERNAL_SYSTEM) and not p.has(ADMIN, DISPATCHER):
        raise Forbidden("外部系统不能申请司法确认", "external systems may not apply to the court")


def authorize_otp_request(p: Principal, med: dict, party_id: str) -> None:
    """Send a one-time code to a party's phone: the party, or the mediator in charge (the code goes to the
    party's own phone; only the party can read it)."""
    if (p.has(PARTY) and p.party_id == party_id) or _is_mediator_of(p, med):
        return
    raise Forbidden("无权为该当事人发送验证码", "you may not send this party a code")


def party_channel(p: Principal | None, med: dict, party_id: str, method: str) -> str:
    """The channel of a party's signature (``login`` | ``otp`` | ``in_person``), or ``Forbidden``.

    - ``image`` by the party logged in as itself: ``login``;
    - ``otp`` by the party itself, or without any identity (the code sent to the party's phone is the
      credential, entered on the party's own device): ``otp``;
    - ``in_person``: entered by the mediator in charge, with a witness and a photo.
    A mediator (or anyone else) never submits a party's signature in the login / one-time-code modes."""
    if method == IN_PERSON:
        if p is not None and _is_mediator_of(p, med):
            return IN_PERSON
        raise Forbidden("现场见证签名须由承办调解员录入", "an in-person signature is entered by the mediator in charge")
    if p is not None and p.has(PARTY) and p.party_id == party_id:
        return LOGIN if method == "image" else OTP
    if p is None and method == "otp":
        return OTP
    if p is not None and p.has(MEDIATOR):
        raise Forbidden("调解员不能代当事人签名：当事人须本人登录、凭发到本人手机的验证码签名，或由调解员录入现场见证签名",
                        "a mediator cannot submit a party's signature: the party signs through their own login or "
                        "a one-time code sent to their phone (or in person, before a witness)", code="not_own_channel")
    raise Forbidden("无权代表该当事人签名", "you may not sign for this party", code="not_own_channel")


def authorize_mediator_signature(p: Principal, med: dict) -> None:
    if not _is_mediator_of(p, med):
        raise Forbidden("仅承办调解员本人可以调解员身份签名", "only the mediator in charge signs as mediator")


def private(p: Principal | None, mediator_id: str) -> bool:
    """Declared relations (names of people and organisations) are shown only to admins and the mediator."""
    return p is None or p.has(ADMIN) or (p.has(MEDIATOR) and p.mediator_id == mediator_id)


def may_manage_mediator(p: Principal, mediator_id: str) -> None:
    if p.has(ADMIN) or (p.has(MEDIATOR) and p.mediator_id == mediator_id):
        return
    raise Forbidden("只能管理本人的日程", "only admins, or the mediator, may change this")


def may_see_calendar(p: Principal, mediator_id: str) -> None:
    if p.has(*STAFF) or (p.has(MEDIATOR) and p.mediator_id == mediator_id):
        return
    raise Forbidden("只能查看本人的预约", "only centre staff or the mediator may see this calendar")


@dataclass(frozen=True)
class ListScope:
    """Which mediations a list shows: every one, or those of one mediator / party / external system."""

    kind: str  # all | mediator | party | external_system
    value: str | None = None


def list_scope(p: Principal) -> ListScope:
    if p.has(*READ_ALL):
        return ListScope("all")
    if p.has(MEDIATOR) and p.mediator_id:
        return ListScope("mediator", p.mediator_id)
    if p.has(PARTY) and p.party_id:
        return ListScope("party", p.party_id)
    if p.has(EXTERNAL_SYSTEM) and p.external_system:
        return ListScope("external_system", p.external_system)
    raise Forbidden()


def may_see_phone(p: Principal, party_id: str) -> bool:
    return p.may_see_pii or p.party_id == party_id
