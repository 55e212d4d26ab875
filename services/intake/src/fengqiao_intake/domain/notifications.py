"""Text messages to residents (pure): intake's approved templates, who receives them, quiet hours,
the query code, and the progress of a case in plain words (the public page and the messages).

A message goes only to the case's requester (the party with role ``requester``) at a mobile number,
with only its template's parameters: the case number, the query code, another case's number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.sms import Template

from . import pii

TEMPLATES = {t.name: t for t in (
    Template("accepted", "您反映的问题已受理，案件编号${case_no}，查询码${code}，可凭编号和查询码查看办理进度并评价。"),
    Template("on_site", "您反映的问题（编号${case_no}）已有部门到场处置。"),
    Template("result", "您反映的问题（编号${case_no}）已办理完毕，请凭查询码查看结果，并告诉我们是否满意、问题是否解决。"),
    Template("rating_ask", "您反映的问题（编号${case_no}）已办结，请回复1满意、2基本满意、3不满意，或凭查询码在线评价。"),
    Template("duplicate", "您反映的问题（编号${case_no}）与案件${primary_no}为同一事项，已合并办理，进展可凭原查询码查看。"),
)}

_MOBILE = re.compile(r"^1\d{10}$")
QUERY_CODE_DIGITS = 8


def recipient(parties: list[dict] | None) -> str | None:
    """The requester's normalised mobile number, or None (no requester, no mobile: no message)."""
    r = pii.requester_of(parties)
    phone = pii.normalise_phone(r.get("phone")) if r else None
    return phone if phone and _MOBILE.match(phone) else None


def new_query_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(QUERY_CODE_DIGITS))


def query_code_hash(case_no: str, code: str) -> str:
    """SHA-256 over case number and code (the case number salts it; the code alone is never kept)."""
    return hashlib.sha256(f"{case_no}:{code.strip()}".encode()).hexdigest()


def code_matches(case_no: str, code: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(query_code_hash(case_no, code), stored)


def _parse(hhmm: str) -> time:
    h, m = hhmm.split(":")
    return time(int(h), int(m))


def release_at(now: datetime, tz: ZoneInfo, quiet_start: str, quiet_end: str) -> datetime:
    """When a message queued ``now`` may go: at once, or at the end of the quiet hours (local time)."""
    start, end = _parse(quiet_start), _parse(quiet_end)
    if start == end:
        return now
    local = now.astimezone(tz)
    t = local.timetz().replace(tzinfo=None)
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet:
        return now
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


# the public page's words for the timeline (no staff names, no notes, no departments' free text)
PUBLIC_STEPS = {
    "case.reported": "已受理", "order.dispatched": "已派给承办部门", "order.signed": "承办部门已签收",
    "department.checked-in": "部门已到场处置", "order.progressed": "正在处置", "order.resolved": "部门已办理完毕",
    "order.verified": "中心已核验办理结果", "case.resolved": "已办结", "case.closed": "已结案",
    "case.reopened": "重新办理", "case.merged": "已与同一事项合并办理", "case.rated": "已收到您的评价",
    "order.returned": "重新派单中", "case.queued": "等待派单", "order.escalated": "已督办",
    "mediation.referred": "已转人民调解", "mediation.booked": "已预约调解", "mediation.confirmed": "调解协议已确认",
    "mediation.failed": "调解未成功，继续办理",
}
PUBLIC_STATUS = {
    "reported": "已受理", "accepted": "已受理，等待派单", "returned": "重新派单中", "reopened": "重新办理",
    "dispatched": "办理中", "on_site": "部门已到场处置", "resolved": "已办结，请评价", "closed": "已结案",
    "merged": "已合并办理",
}


def public_steps(entries: list[dict]) -> list[dict]:
    """The timeline in plain words: only known kinds, their time and the wording above."""
    out = []
    for e in entries:
        text = PUBLIC_STEPS.get(e["kind"])
        if text and (not out or out[-1]["text"] != text):
            out.append({"at": e["at"], "text": text})
    return out
