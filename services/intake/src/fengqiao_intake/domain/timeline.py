"""Bilingual one-line notes for timeline entries (no personal data).

Event types take their labels from the event registry (``fengqiao_events.registry``); the few
timeline kinds that are not events of their own live in :data:`LOCAL_LABELS`.
"""

from __future__ import annotations

from functools import cache

from fengqiao_events.registry import all_specs

LOCAL_LABELS = {
    "case.reported": ("受理登记", "case registered"),
    "case.merged_in": ("并入重复案件", "a duplicate case was merged in"),
}


@cache
def labels() -> dict[str, tuple[str, str]]:
    out = {s.topic: (s.label_zh, s.label_en) for s in all_specs()}
    out.update(LOCAL_LABELS)
    return out


def note(kind: str, detail: str | None = None) -> str:
    zh, en = labels().get(kind, (kind, kind))
    text = f"{zh} / {en}"
    return f"{text}: {detail}" if detail else text
