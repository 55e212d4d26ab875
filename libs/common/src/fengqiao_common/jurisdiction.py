"""The jurisdiction file (levels, grids, departments, domains, grades, mediation categories).

A street loads its own file of the same shape as ``data/waihai.yaml``; nothing in the code depends
on the demo names.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _M(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Area(_M):
    code: str
    name: str


class Community(Area):
    pass


class Layout(_M):
    row: int
    col: int


class Centroid(_M):
    lat: float
    lon: float


class Grid(Area):
    community: str
    layout: Layout
    centroid: Centroid


class Department(Area):
    level: Literal["street", "district"]
    role: Literal["centre", "department"]


class Domain(Area):
    lead: str
    assist: list[str] = Field(default_factory=list)
    escalate_to: list[str] = Field(default_factory=list)
    default_grade: str


class Grade(Area):
    colour: str
    sign_for: str
    on_site: str
    resolve: str
    calendar: Literal["natural", "working"]


class MediationCategory(Area):
    pass


class ExternalSystem(_M):
    code: str
    name: str
    kind: str


_DUR = re.compile(r"^(\d+)(m|h|d|wd)$")


def parse_limit(text: str) -> tuple[int, str]:
    """``'15m'`` -> (15, 'm'); units: m minutes, h hours, d natural days, wd working days."""
    m = _DUR.match(text.strip())
    if not m:
        raise ValueError(f"bad time limit {text!r}")
    return int(m.group(1)), m.group(2)


def natural_delta(text: str) -> timedelta | None:
    n, unit = parse_limit(text)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}.get(unit)


class Jurisdiction(_M):
    province: Area
    city: Area
    district: Area
    street: Area
    communities: list[Community]
    grids: list[Grid]
    departments: list[Department]
    domains: list[Domain]
    grades: list[Grade]
    mediation_categories: list[MediationCategory]
    dialects: list[str]
    external_systems: list[ExternalSystem]
    judicial_apply_within_days: int = 30
    judicial_court: str | None = None
    mediator_pool_size: int = 0
    mediator_pool_mix: dict[str, int] = Field(default_factory=dict)

    def grid(self, code: str) -> Grid | None:
        return self._grids.get(code)

    def community(self, code: str) -> Community | None:
        return self._communities.get(code)

    def department(self, code: str) -> Department | None:
        return self._departments.get(code)

    def domain(self, code: str) -> Domain | None:
        return self._domains.get(code)

    def grade(self, code: str) -> Grade | None:
        return self._grades.get(code)

    def model_post_init(self, _ctx) -> None:
        self._grids = {g.code: g for g in self.grids}
        self._communities = {c.code: c for c in self.communities}
        self._departments = {d.code: d for d in self.departments}
        self._domains = {d.code: d for d in self.domains}
        self._grades = {g.code: g for g in self.grades}

    @property
    def centre(self) -> Department:
        return next(d for d in self.departments if d.role == "centre")


def parse(raw: dict) -> Jurisdiction:
    j = raw["jurisdiction"]
    med = raw.get("mediation", {})
    jc = med.get("judicial_confirmation", {})
    return Jurisdiction(
        province=j["province"],
        city=j["city"],
        district=j["district"],
        street=j["street"],
        communities=j["communities"],
        grids=j["grids"],
        departments=raw["departments"],
        domains=raw["domains"]["items"],
        grades=raw["grades"]["items"],
        mediation_categories=med.get("categories", []),
        dialects=med.get("dialects", []),
        external_systems=raw.get("external_systems", []),
        judicial_apply_within_days=jc.get("apply_within_days", 30),
        judicial_court=jc.get("court"),
        mediator_pool_size=med.get("pool_size", 0),
        mediator_pool_mix=med.get("pool_mix", {}),
    )


@cache
def load(path: str | Path) -> Jurisdiction:
    with open(path, encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))
