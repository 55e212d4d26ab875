"""Bilingual one-line notes for timeline entries (no personal data)."""

from __future__ import annotations

LABELS = {
    "case.reported": ("受理登记", "case registered"),
    "case.queued": ("等待人工派单", "waiting for manual dispatch"),
    "order.dispatched": ("派单", "order dispatched"),
    "order.signed": ("部门签收", "order signed for"),
    "department.checked-in": ("部门到场报到", "department on site"),
    "order.progressed": ("处置进展", "progress reported"),
    "order.resolved": ("部门办结", "department reported a result"),
    "order.returned": ("退单", "order returned"),
    "order.verified": ("中心核验", "result verified"),
    "order.reminded": ("催办", "reminder sent"),
    "deadline.missed": ("超时", "time limit missed"),
    "order.escalated": ("督办升级", "escalated"),
    "order.cancelled": ("撤销派单", "order withdrawn"),
    "case.resolved": ("案件办结", "case resolved"),
    "case.closed": ("案件结案", "case closed"),
    "mediation.referred": ("转人民调解", "referred to mediation"),
    "mediation.booked": ("预约调解", "mediation booked"),
    "mediation.rescheduled": ("调解改期", "mediation rescheduled"),
    "mediation.cancelled": ("取消调解预约", "mediation booking cancelled"),
    "session.sealed": ("调解笔录双方确认", "session record sealed"),
    "agreement.generated": ("生成调解协议", "agreement generated"),
    "judicial.applied": ("申请司法确认", "judicial confirmation applied for"),
    "judicial-material.requested": ("法院要求补充材料", "the court asked for more material"),
    "judicial.rejected": ("司法确认被驳回", "judicial confirmation rejected"),
    "mediation.confirmed": ("司法确认完成", "agreement judicially confirmed"),
    "mediation.failed": ("调解未成功", "mediation failed"),
    "case.regraded": ("调整等级", "grade changed"),
    "case.merged": ("合并至其他案件", "merged into another case"),
    "case.merged_in": ("并入重复案件", "a duplicate case was merged in"),
    "case.rated": ("回访评价", "satisfaction rated"),
    "case.reopened": ("重新办理", "case reopened"),
}


def note(kind: str, detail: str | None = None) -> str:
    zh, en = LABELS.get(kind, (kind, kind))
    text = f"{zh} / {en}"
    return f"{text}: {detail}" if detail else text
