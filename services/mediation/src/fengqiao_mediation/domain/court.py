"""Judicial confirmation (司法确认): when one may apply, what a court decision changes, deadline reminders.
Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fengqiao_common.errors import Conflict, DomainError

from . import rules

OPEN_APPLICATION = ("submitted", "material_requested", "confirmed")
TARGET = {"more_material": "material_requested", "confirmed": "confirmed", "rejected": "rejected"}
MEDIATION_STATUS = {"more_material": rules.MATERIAL_REQUESTED, "confirmed": rules.CONFIRMED,
                    "rejected": rules.REJECTED}


class CourtUnavailable(DomainError):
    """The court's system did not take the request; nothing was recorded. Retry later."""

    kind = "bad_gateway"
    default_code = "court_unavailable"

    def __init__(self) -> None:
        super().__init__("法院系统暂不可用，请稍后重试", "the court's system is unavailable; try again later")


def check_can_apply(med: dict, agr: dict | None, now: datetime) -> None:
    if agr is None:
        raise Conflict("尚未生成调解协议", "no agreement has been generated", code="no_agreement")
    if med["status"] not in rules.CAN_APPLY:
        raise Conflict("当前状态不能申请司法确认", f"mediation is {med['status']}", code="cannot_apply",
                       status=med["status"])
    if agr["apply_by"] < now:
        raise Conflict("已超过申请司法确认的期限", "the deadline to apply has passed", code="deadline_passed",
                       apply_by=agr["apply_by"].isoformat())


def check_no_open_application(open_app: dict | None) -> None:
    if open_app is not None:
        raise Conflict("已申请司法确认", "an application is already pending or confirmed", code="already_applied",
                       application_id=open_app["id"], status=open_app["status"])


def check_material_requested(app: dict) -> None:
    if app["status"] != "material_requested":
        raise Conflict("法院未要求补充材料", f"application is {app['status']}", code="no_material_requested",
                       status=app["status"])


def is_duplicate_callback(app: dict, decision: str, ruling_no: str | None) -> bool:
    return app["status"] == TARGET[decision] and (decision != "confirmed" or app["ruling_no"] == ruling_no)


def check_callback(app: dict, decision: str) -> None:
    if app["status"] not in ("submitted", "material_requested") or (
            decision == "more_material" and app["status"] != "submitted"):
        raise Conflict("该申请已有结论", f"application is {app['status']}", code="already_decided",
                       status=app["status"])


@dataclass(frozen=True)
class DueReminder:
    kind: str
    overdue: bool


def reminder_due(apply_by: datetime, days_before: tuple[int, ...], now: datetime) -> DueReminder | None:
    """The most urgent reminder due at ``now`` (earlier ones are not sent late), or None."""
    kinds = [(f"judicial_apply_{d}d", apply_by - timedelta(days=d)) for d in sorted(days_before, reverse=True)]
    kinds.append(("judicial_apply_overdue", apply_by))
    due = [k for k, at in kinds if at <= now]
    if not due:
        return None
    return DueReminder(due[-1], due[-1] == "judicial_apply_overdue")


def reminder_text(local_deadline: str, overdue: bool) -> str:
    if overdue:
        return f"【枫桥调解】调解协议申请司法确认的期限（{local_deadline}）已过。"
    return f"【枫桥调解】调解协议申请司法确认的期限为{local_deadline}，请尽快办理。"
