"""Which personal fields a reader sees in full, for which purpose, and the audit of every such view (pure).

The policy table is docs/data-protection.md. In short: the parties' contact data (name, phone,
e-mail) is in full only for those who must act on the case - the dispatcher (受理、分派、回访), the
department that holds or held an order on it, the mediator of its mediation; everyone else sees it
masked. The ID number is masked for everyone; only a dispatcher may reveal it, on one case's
detail, naming one of :data:`ID_PURPOSES`. Every view with a field in full writes one
``pii_access_log`` row per case (who, role, object, fields, purpose, when, request id, address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fengqiao_common.auth import (
    ADMIN,
    DISPATCHER,
    DPO,
    EXTERNAL_SYSTEM,
    GRID_WORKER,
    LEADER,
    MEDIATOR,
    SERVICE,
    Principal,
)
from fengqiao_common.errors import Forbidden, invalid

from . import pii
from .visibility import DEPARTMENT_ROLES, Links

DATA_PROTECTION_OFFICER = DPO  # fengqiao_common.auth.DPO ("dpo")
AUDIT_READERS = (ADMIN, DATA_PROTECTION_OFFICER)
REVEAL_ID_ROLES = (DISPATCHER,)
# why a dispatcher may read a full ID number (the request names one; it is recorded)
ID_PURPOSES = {
    "identity_verification": "核验诉求人身份 / verify the requester's identity",
    "legal_referral": "移送司法、仲裁或行政程序 / referral to a court, arbitration or an authority",
    "assistance_application": "代办救助、帮扶申请 / file an assistance application on their behalf",
    "petition_registration": "信访事项登记 / register a petition (信访条例)",
}
# the purpose recorded for a role's ordinary reads with contact data in full
PURPOSE_DISPATCH = "dispatch"  # 受理、分派、回访
PURPOSE_ORDER = "handle_order"  # 部门处置工单
PURPOSE_MEDIATION = "mediation"  # 人民调解
PURPOSE_CASEWORK = "casework"  # reading an attachment of a visible case
PURPOSE_REGISTRATION = "registration"  # the answer to a create: the caller's own input
# the purpose of masked views, by role (told to the gateway's audit; nothing in full, no row here)
MASKED_PURPOSES = ((GRID_WORKER, "grid_management"), (LEADER, "oversight"), (ADMIN, "administration"),
                   (EXTERNAL_SYSTEM, "own_request"), (SERVICE, "service"))
# party field -> the name in the gateway's audit contract (X-Fengqiao-Audit-Fields, docs/design.md)
AUDIT_NAMES = (("name", "name"), ("phone", "phone"), ("email", "email"), ("id_card", "id_number"))
MAX_SUBJECTS = 200

CONTACT_FIELDS = ("name", "phone", "email")


@dataclass(frozen=True)
class AccessContext:
    """Where a read came from: the gateway's request id and the client address it forwarded."""

    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True)
class View:
    """What one reader sees of one case's parties, and why (``purpose``, ``role``: for the audit)."""

    contact: bool = False
    id_number: bool = False
    purpose: str | None = None
    role: str | None = None


MASKED = View()


def reveal_purpose(principal: Principal, reveal: str | None, purpose: str | None) -> str | None:
    """The purpose of an explicit ``?reveal=id_number&purpose=...`` (None: nothing revealed).
    Raises Forbidden for a role the policy does not name, Invalid for a missing or unknown purpose."""
    if reveal is None:
        if purpose is not None and purpose not in ID_PURPOSES:
            raise invalid("purpose", f"未知的用途 {purpose}", f"unknown purpose {purpose}", "unknown_purpose",
                          loc=["query", "purpose"])
        return None
    if not principal.has(*REVEAL_ID_ROLES):
        raise Forbidden("只有受理中心调度员可因法定用途查看完整身份证号",
                        "only a dispatcher may reveal an ID number, for a purpose the policy names")
    if purpose not in ID_PURPOSES:
        raise invalid("purpose", "查看完整身份证号须说明用途：" + "、".join(ID_PURPOSES),
                      "revealing an ID number needs a purpose: " + ", ".join(ID_PURPOSES), "purpose_required",
                      loc=["query", "purpose"])
    return purpose


def case_view(principal: Principal, links: Links, *, reveal: str | None = None) -> View:
    """The view of one case's parties for ``principal`` (``reveal``: a checked ID purpose)."""
    if principal.has(DISPATCHER):
        return View(contact=True, id_number=reveal is not None, purpose=reveal or PURPOSE_DISPATCH,
                    role=DISPATCHER)
    dept_role = next((r for r in DEPARTMENT_ROLES if principal.has(r)), None)
    if dept_role and principal.department and principal.department in links.departments:
        return View(contact=True, purpose=PURPOSE_ORDER, role=dept_role)
    if principal.has(MEDIATOR) and principal.mediator_id and principal.mediator_id in links.mediators:
        return View(contact=True, purpose=PURPOSE_MEDIATION, role=MEDIATOR)
    role, purpose = next(((r, p) for r, p in MASKED_PURPOSES if principal.has(r)), (None, None))
    return View(purpose=purpose, role=role)


def needs_links(principal: Principal) -> bool:
    """Whether the view depends on a case's links (departments, mediators): only for those roles."""
    return principal.has(*DEPARTMENT_ROLES, MEDIATOR) and not principal.has(DISPATCHER)


def echo_view(principal: Principal) -> View:
    """The answer to a create: the caller's own input, contact data as entered only where the
    caller's role reads it anyway (the dispatcher); the ID number masked. Not a read: not audited."""
    return View(contact=principal.has(DISPATCHER), purpose=PURPOSE_REGISTRATION)


def shape_parties(parties: list[dict], view: View) -> list[dict]:
    return pii.parties_view(parties, contact=view.contact, id_number=view.id_number)


def unmasked_fields(parties: list[dict], view: View) -> list[str]:
    """The party fields shown in full (only those some party has): what the audit row records."""
    fields = []
    if view.contact:
        fields += [f"parties.{f}" for f in CONTACT_FIELDS if any(p.get(f) for p in parties)]
    if view.id_number and any(p.get("id_card") for p in parties):
        fields.append("parties.id_card")
    return fields


def audit_row(principal: Principal, *, action: str, object_type: str, object_id: str, case: dict | None,
              fields: list[str], purpose: str | None, role: str | None, ctx: AccessContext, at: datetime) -> dict:
    return {
        "at": at, "actor_id": principal.sub, "actor_kind": principal.kind, "actor_name": principal.name,
        "role": role or principal.role, "department": principal.department, "action": action,
        "object_type": object_type, "object_id": object_id, "case_id": case["id"] if case else None,
        "case_no": case["case_no"] if case else None, "fields": fields, "purpose": purpose,
        "request_id": ctx.request_id, "client_address": ctx.client_address,
    }


def case_read(principal: Principal, case: dict, links: Links, *, action: str, ctx: AccessContext, at: datetime,
              reveal: str | None = None) -> tuple[dict, View, dict | None]:
    """One case as ``principal`` may see it (parties shaped), the view, and its audit row (None: nothing in full)."""
    view = case_view(principal, links, reveal=reveal)
    shown = {**case, "parties": shape_parties(case.get("parties") or [], view)}
    fields = unmasked_fields(case.get("parties") or [], view)
    if not fields:
        return shown, view, None
    return shown, view, audit_row(principal, action=action, object_type="case", object_id=case["id"], case=case,
                                  fields=fields, purpose=view.purpose, role=view.role, ctx=ctx, at=at)


@dataclass(frozen=True)
class Disclosure:
    """What an answer holds, for the gateway's audit (``X-Fengqiao-Audit-*``): the personal fields
    (``id_number(masked)`` when masked in every case shown), the purpose, the cases it is about."""

    fields: tuple[str, ...] = ()
    purpose: str | None = None
    subjects: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        if not self.fields:
            return {}
        out = {"X-Fengqiao-Audit-Fields": ",".join(self.fields)}
        if self.purpose:
            out["X-Fengqiao-Audit-Purpose"] = self.purpose[:64]
        if self.subjects:
            out["X-Fengqiao-Audit-Subjects"] = ",".join(self.subjects[:MAX_SUBJECTS])
        return out


NOTHING_DISCLOSED = Disclosure()


def disclosure(shown: list[tuple[dict, View]]) -> Disclosure:
    """``shown``: (the case as stored, the view it was shown through), for every case of one answer."""
    full: dict[str, bool] = {}
    purposes = []
    for case, view in shown:
        parties = case.get("parties") or []
        for field, name in AUDIT_NAMES:
            if any(p.get(field) for p in parties):
                in_full = view.id_number if field == "id_card" else view.contact
                full[name] = full.get(name, False) or in_full
        if view.purpose and view.purpose not in purposes:
            purposes.append(view.purpose)
    fields = tuple(n if full[n] else f"{n}(masked)" for _f, n in AUDIT_NAMES if n in full)
    return Disclosure(fields, ",".join(purposes) or None, tuple(c["case_no"] for c, _v in shown))
