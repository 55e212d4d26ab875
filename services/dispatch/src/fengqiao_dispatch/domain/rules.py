"""Routing rules as data: domain x area x grade, with conditions on people involved and keywords.

A rule names a lead department (首接负责) and assisting departments. Rules are stored versioned;
:func:`choose` picks, among the enabled rules that match a case, the one with the highest priority
(ties: the more specific rule, then the id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fengqiao_common.jurisdiction import Jurisdiction
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Grade = Literal["red", "orange", "yellow", "blue"]


def reject_nul(data: Any) -> Any:
    """Text with a NUL character cannot be stored (PostgreSQL text): refuse it as bad input."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ValueError("文本中含有不允许的空字符 / text contains a NUL character")
    elif isinstance(data, dict):
        for v in data.values():
            reject_nul(v)
    elif isinstance(data, list | tuple):
        for v in data:
            reject_nul(v)
    return data


class RuleBody(BaseModel):
    """What an admin saves. ``match`` says how the conditions (grades, min_people, keywords_any)
    combine: ``all`` of the given ones, or ``any`` of them. Domain and areas always apply."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)

    domain: str = Field(min_length=1, max_length=64)
    areas: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=200,
                             description="grid or community codes; empty: the whole street")
    grades: list[Grade] = Field(default_factory=list, max_length=4)
    min_people: int | None = Field(None, ge=1, le=100000)
    keywords_any: list[str] = Field(default_factory=list, max_length=50)
    match: Literal["all", "any"] = "all"
    lead: str = Field(min_length=1, max_length=32)
    assist: list[str] = Field(default_factory=list, max_length=20)
    on_site_required: bool = True
    priority: int = Field(0, ge=0, le=10000)
    enabled: bool = True

    @field_validator("keywords_any")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        out = [k.strip() for k in v]
        if any(not k or len(k) > 50 for k in out):
            raise ValueError("关键词不能为空且不超过 50 字 / keywords must be non-empty and at most 50 characters")
        return out

    @model_validator(mode="after")
    def _lead_not_assist(self) -> RuleBody:
        if self.lead in self.assist:
            raise ValueError("牵头部门不能同时是协办部门 / the lead department cannot also assist")
        if len(set(self.assist)) != len(self.assist):
            raise ValueError("协办部门重复 / assisting departments are repeated")
        return self

    def specificity(self) -> int:
        return (bool(self.areas) + bool(self.grades) + (self.min_people is not None) + bool(self.keywords_any))


def validate_against(body: RuleBody, j: Jurisdiction) -> list[dict]:
    """Checks that need the jurisdiction: returns field errors (empty when valid)."""
    errs: list[dict] = []

    def err(field: str, zh: str, en: str) -> None:
        errs.append({"field": field, "loc": ["body", *field.split(".")], "code": "value_error",
                     "message_zh": zh, "message_en": en})

    if j.domain(body.domain) is None:
        err("domain", f"未知的事项领域：{body.domain}", f"unknown domain: {body.domain}")
    for i, code in enumerate([body.lead, *body.assist]):
        field = "lead" if i == 0 else f"assist.{i - 1}"
        dept = j.department(code)
        if dept is None:
            err(field, f"未知的部门：{code}", f"unknown department: {code}")
        elif dept.role == "centre":
            err(field, "不能向综治中心自身派单", "orders cannot go to the centre itself")
    for i, code in enumerate(body.areas):
        if j.grid(code) is None and j.community(code) is None:
            err(f"areas.{i}", f"未知的网格或社区：{code}", f"unknown grid or community: {code}")
    return errs


@dataclass(frozen=True)
class CaseFacts:
    category: str
    grade: str
    grid: str | None
    community: str | None
    people_involved: int
    text: str  # summary + description + keywords

    @classmethod
    def of(cls, *, category: str, grade: str, grid: str | None, community: str | None, people_involved: int,
           summary: str, description: str, keywords: list[str]) -> CaseFacts:
        return cls(category, grade, grid, community, people_involved,
                   " ".join([summary, description, *keywords]))


def matches(body: RuleBody, case: CaseFacts) -> bool:
    if not body.enabled or body.domain != case.category:
        return False
    if body.areas and not ({case.grid, case.community} & set(body.areas)):
        return False
    conds = []
    if body.grades:
        conds.append(case.grade in body.grades)
    if body.min_people is not None:
        conds.append(case.people_involved >= body.min_people)
    if body.keywords_any:
        conds.append(any(k in case.text for k in body.keywords_any))
    if not conds:
        return True
    return all(conds) if body.match == "all" else any(conds)


@dataclass(frozen=True)
class StoredRule:
    rule_id: str
    version: int
    body: RuleBody


def choose(rules: list[StoredRule], case: CaseFacts) -> StoredRule | None:
    hits = [r for r in rules if matches(r.body, case)]
    if not hits:
        return None
    hits.sort(key=lambda r: (-r.body.priority, -r.body.specificity(), r.rule_id))
    return hits[0]


WAGE_RULE_ID = "labour-wage-arrears"


def seed_rules(j: Jurisdiction) -> list[tuple[str, RuleBody]]:
    """The demo rule set: one default rule per domain (lead/assist from the jurisdiction), and the
    seed's wage dispute: labour, red or 10+ people or naming wage arrears (欠薪) -> the district
    HR & social-security bureau leads, the district court assists, both on site."""
    out = [
        (f"default-{d.code}", RuleBody(name=f"{d.name}（默认）", domain=d.code, lead=d.lead, assist=d.assist))
        for d in j.domains
    ]
    labour = j.domain("labour")
    if labour is not None and len(labour.escalate_to) >= 2:
        court = next((c for c in labour.escalate_to if c.endswith("FY")), labour.escalate_to[-1])
        bureau = next(c for c in labour.escalate_to if c != court)
        out.append((WAGE_RULE_ID, RuleBody(
            name="欠薪、群体性劳资纠纷：区法院、区人社局到场", domain="labour", grades=["red"], min_people=10,
            keywords_any=["欠薪", "拖欠工资", "讨薪"], match="any", lead=bureau, assist=[court],
            on_site_required=True, priority=100,
        )))
    return out
