"""Grade of a case (red > orange > yellow > blue): the category's default, raised by the facts.

Rules (the jurisdiction file states them): a threat to life makes a case red; 10 or more people
involved, wage arrears (欠薪) or a gathering (聚集) make it at least orange; 50 or more people make
it red. A grade given by the reporter is kept as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORDER = ("blue", "yellow", "orange", "red")
RANK = {g: i for i, g in enumerate(ORDER)}

LIFE_THREAT = ("生命危险", "自杀", "轻生", "跳楼", "跳河", "持刀", "砍人", "伤人", "爆炸", "纵火", "死亡", "人命",
               "threat to life", "suicide", "knife", "explosion")
WAGE_ARREARS = ("欠薪", "拖欠工资", "讨薪", "欠工资", "wage arrears", "unpaid wages")
GATHERING = ("聚集", "围堵", "堵门", "集体上访", "群体", "gathering", "crowd")

MANY_PEOPLE = 10
VERY_MANY_PEOPLE = 50


@dataclass
class GradeDecision:
    grade: str
    reasons: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


def _found(text: str, words: tuple[str, ...]) -> list[str]:
    low = text.lower()
    return [w for w in words if w.lower() in low]


def keywords(text: str) -> list[str]:
    return _found(text, LIFE_THREAT) + _found(text, WAGE_ARREARS) + _found(text, GATHERING)


def higher(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def decide(default_grade: str, text: str, people_involved: int, given: str | None = None) -> GradeDecision:
    kws = keywords(text)
    if given:
        return GradeDecision(given, ["reporter"], kws)
    grade = default_grade
    reasons = [f"category_default:{default_grade}"]
    if _found(text, LIFE_THREAT):
        grade = higher(grade, "red")
        reasons.append("threat_to_life")
    if people_involved >= VERY_MANY_PEOPLE:
        grade = higher(grade, "red")
        reasons.append(f"people_involved>={VERY_MANY_PEOPLE}")
    elif people_involved >= MANY_PEOPLE:
        grade = higher(grade, "orange")
        reasons.append(f"people_involved>={MANY_PEOPLE}")
    if _found(text, WAGE_ARREARS):
        grade = higher(grade, "orange")
        reasons.append("wage_arrears")
    if _found(text, GATHERING):
        grade = higher(grade, "orange")
        reasons.append("gathering")
    return GradeDecision(grade, reasons, kws)
